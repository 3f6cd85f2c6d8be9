package load

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The udp workload: Conns connected UDP sockets, each keeping Depth
// datagrams of Size bytes in flight (a closed loop: a new datagram for
// every echo), each echo checked byte for byte. A datagram is
// "socket id, sequence number, send time" and filler derived from the
// sequence number, so a stale, crossed or corrupted echo is caught. UDP may
// drop: when nothing comes back for udpLossTimeout, what is in flight is
// counted as lost (Result.Lost, not an error) and the window refilled.

// udpHeader is the id (4 bytes), the sequence number (8) and the send time
// (8, unix ns); shorter datagrams are padded to it.
const udpHeader = 20

// udpLossTimeout is how long a socket waits for any echo before it counts
// what is in flight as lost.
const udpLossTimeout = 200 * time.Millisecond

// RunUDP is Run for the udp workload; cfg.Workload is not used.
func RunUDP(ctx context.Context, cfg Config, size int) (Result, error) {
	if cfg.Conns <= 0 || cfg.Measure <= 0 {
		return Result{}, errors.New("load: need sockets and a measure time")
	}
	cfg.Depth = min(max(cfg.Depth, 1), 64)
	size = max(size, udpHeader)
	if cfg.Drain <= 0 {
		cfg.Drain = time.Second
	}
	st := newStats()
	var lost atomic.Int64
	socks := make([]*net.UDPConn, cfg.Conns)
	raddr, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return Result{}, err
	}
	for i := range socks {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			st.fail(fmt.Errorf("dial: %w", err))
			continue
		}
		socks[i] = c
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for id, c := range socks {
		if c == nil {
			continue
		}
		w := &udpWorker{id: uint32(id), c: c, size: size, depth: cfg.Depth, st: st, stop: &stop, lost: &lost}
		wg.Go(w.run)
	}
	window, after := measure(ctx, cfg, st)
	stop.Store(true)
	deadline := time.Now().Add(cfg.Drain)
	for _, c := range socks {
		if c != nil {
			c.SetReadDeadline(deadline)
		}
	}
	wg.Wait()
	res := Result{Workload: "udp", Conns: cfg.Conns, Size: size, Depth: cfg.Depth, Seconds: window.Seconds()}
	for _, c := range socks {
		if c != nil {
			res.Connected++
			c.Close()
		}
	}
	h := hdrhistogram.New(1, int64(60*time.Second), 3)
	for i := range st.shards {
		h.Merge(st.shards[i].h)
		res.Bytes += st.shards[i].bytes
	}
	res.Messages = h.TotalCount()
	if res.Messages > 0 {
		us := func(v int64) float64 { return float64(v) / 1e3 }
		res.P50us, res.P99us = us(h.ValueAtQuantile(50)), us(h.ValueAtQuantile(99))
		res.P999us, res.MaxUs, res.MeanUs = us(h.ValueAtQuantile(99.9)), us(h.Max()), h.Mean()/1e3
	}
	res.MsgsPerS = float64(res.Messages) / res.Seconds
	res.MBPerS = float64(res.Bytes) / res.Seconds / 1e6
	res.Errors, res.ErrorSamples, res.Lost = st.errs.Load(), st.samples, lost.Load()
	res.afterCounts(st, after)
	return res, nil
}

// udpWorker drives one socket.
type udpWorker struct {
	id          uint32
	c           *net.UDPConn
	size, depth int
	st          *stats
	stop        *atomic.Bool
	lost        *atomic.Int64

	base, next uint64 // in flight: [base, next)
	got        []bool // answered, by sequence number modulo depth
	out, in    []byte
}

func (w *udpWorker) run() {
	w.got = make([]bool, w.depth)
	w.out, w.in = make([]byte, w.size), make([]byte, w.size+1)
	if !w.fillWindow() {
		return
	}
	for {
		if !w.stop.Load() {
			w.c.SetReadDeadline(time.Now().Add(udpLossTimeout))
		}
		n, err := w.c.Read(w.in)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if w.stop.Load() {
					w.lost.Add(int64(w.next - w.base))
					return
				}
				w.refill()
				continue
			}
			if !w.stop.Load() {
				w.st.fail(err)
			}
			return
		}
		if !w.receive(w.in[:n]) {
			return
		}
		if w.stop.Load() {
			if w.base == w.next {
				return
			}
			continue
		}
		if !w.fillWindow() {
			return
		}
	}
}

// fillWindow sends until depth datagrams are in flight: an echo that
// arrives before an earlier one's leaves the window where it is.
func (w *udpWorker) fillWindow() bool {
	for w.next-w.base < uint64(w.depth) {
		if !w.send() {
			return false
		}
	}
	return true
}

// send sends the next datagram.
func (w *udpWorker) send() bool {
	fill(w.out, w.id, w.next, time.Now().UnixNano())
	if _, err := w.c.Write(w.out); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || w.stop.Load() {
			return false
		}
		w.st.fail(err)
		return false
	}
	w.next++
	return true
}

// fill writes datagram seq of socket id into b.
func fill(b []byte, id uint32, seq uint64, now int64) {
	binary.LittleEndian.PutUint32(b, id)
	binary.LittleEndian.PutUint64(b[4:], seq)
	binary.LittleEndian.PutUint64(b[12:], uint64(now))
	for i := udpHeader; i < len(b); i++ {
		b[i] = byte(seq) + byte(i)
	}
}

// receive checks one echo and records it.
func (w *udpWorker) receive(b []byte) bool {
	if len(b) != w.size || binary.LittleEndian.Uint32(b) != w.id {
		w.st.fail(fmt.Errorf("socket %d: echo of %d bytes is not one of its datagrams", w.id, len(b)))
		return false
	}
	seq := binary.LittleEndian.Uint64(b[4:])
	if seq < w.base {
		return true // the late echo of a datagram counted as lost
	}
	if seq >= w.next || w.got[seq%uint64(w.depth)] {
		w.st.fail(fmt.Errorf("socket %d: echo of datagram %d, in flight [%d, %d)", w.id, seq, w.base, w.next))
		return false
	}
	for i := udpHeader; i < len(b); i++ {
		if b[i] != byte(seq)+byte(i) {
			w.st.fail(fmt.Errorf("socket %d: echo of datagram %d corrupted at byte %d", w.id, seq, i))
			return false
		}
	}
	sent := int64(binary.LittleEndian.Uint64(b[12:]))
	w.st.record(int(w.id), time.Duration(time.Now().UnixNano()-sent), len(b))
	w.got[seq%uint64(w.depth)] = true
	for w.base < w.next && w.got[w.base%uint64(w.depth)] {
		w.got[w.base%uint64(w.depth)] = false
		w.base++
	}
	return true
}

// refill counts what is in flight as lost and sends a new window.
func (w *udpWorker) refill() {
	w.lost.Add(int64(w.next - w.base))
	clear(w.got)
	w.base = w.next
	w.fillWindow()
}
