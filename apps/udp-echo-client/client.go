package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel/loop"
)

// config is what the flags ask for.
type config struct {
	addr    string
	sockets int // how many sockets send at once
	count   int // datagrams per socket
	size    int // bytes per datagram, when not exact
	message string
	exact   bool // send message as it is (the Python client), not load payloads
	timeout time.Duration
	retries int
}

// client runs the flows and counts what they did. Each flow is a
// connected datagram socket on the engine sending one datagram at a time:
// the next goes when the echo of the last has come back and matched.
type client struct {
	cfg   config
	begun time.Time
	done  chan struct{}

	left                          atomic.Int64 // flows still running
	sent, verified, resent, fails atomic.Int64
	bytesSent, bytesVerified      atomic.Int64

	mu      sync.Mutex
	errs    []string
	last    string // the last echo, for the Received line
	gotLast bool
	elapsed time.Duration
}

func newClient(cfg config) *client {
	return &client{cfg: cfg, done: make(chan struct{})}
}

// flow is one socket's state; it lives on the socket's loop.
type flow struct {
	c     *client
	id    int
	pc    *loop.PacketConn
	seq   int    // the datagram in flight
	want  []byte // its bytes, which the echo must equal
	tries int
	timer *loop.Timer
	rnd   *rand.Rand
	ended bool
	// lastErr is the last error the socket reported (OnPacketError).
	lastErr error
}

func (c *client) start(eng *loop.Engine) error {
	c.begun = time.Now()
	c.left.Store(int64(c.cfg.sockets))
	for i := range c.cfg.sockets {
		f := &flow{c: c, id: i, rnd: rand.New(rand.NewPCG(uint64(i), 0x5eed))}
		pc, err := eng.DialPacket(context.Background(), "udp", c.cfg.addr, f)
		if err != nil {
			return err
		}
		f.pc = pc
		// Registration was queued to the loop first, so this runs after it.
		pc.Loop().Do(f.send)
	}
	return nil
}

// payload is the datagram seq of flow id: "id seq message" and filler up
// to the size asked for, or the bare message for the Python client.
func (f *flow) payload() []byte {
	if f.c.cfg.exact {
		return []byte(f.c.cfg.message)
	}
	b := strconv.AppendInt(nil, int64(f.id), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(f.seq), 10)
	b = append(b, ' ')
	b = append(b, f.c.cfg.message...)
	for len(b) < f.c.cfg.size {
		b = append(b, 'a'+byte(f.rnd.IntN(26)))
	}
	return b
}

func (f *flow) send() {
	if f.ended {
		return
	}
	if f.want == nil {
		f.want = f.payload()
	}
	if err := f.pc.Write(f.want); err != nil {
		f.fail(fmt.Errorf("socket %d: %w", f.id, err))
		return
	}
	f.c.sent.Add(1)
	f.c.bytesSent.Add(int64(len(f.want)))
	if f.timer == nil {
		f.timer = f.pc.Loop().AfterFunc(f.c.cfg.timeout, f.expired)
	} else {
		f.timer.Reset(f.c.cfg.timeout)
	}
}

// expired resends the datagram in flight, or gives up on it.
func (f *flow) expired() {
	if f.ended {
		return
	}
	if f.tries >= f.c.cfg.retries {
		err := fmt.Errorf("socket %d: datagram %d not answered after %d sends", f.id, f.seq, f.tries+1)
		if f.lastErr != nil {
			err = fmt.Errorf("%w (last error: %v)", err, f.lastErr)
		}
		f.fail(err)
		return
	}
	f.tries++
	f.c.resent.Add(1)
	f.send()
}

// OnPacket checks an echo and sends the next datagram.
func (f *flow) OnPacket(pc *loop.PacketConn, data []byte, _ loop.PacketAddr) {
	if f.ended {
		return
	}
	if !bytes.Equal(data, f.want) {
		if f.stale(data) {
			return // the echo of a datagram sent again, arriving late
		}
		f.fail(fmt.Errorf("socket %d: datagram %d: echo of %d bytes does not match the %d sent", f.id, f.seq, len(data), len(f.want)))
		return
	}
	f.c.verified.Add(1)
	f.c.bytesVerified.Add(int64(len(data)))
	if f.c.cfg.exact {
		f.c.mu.Lock()
		f.c.last, f.c.gotLast = string(data), true
		f.c.mu.Unlock()
	}
	f.seq++
	f.want, f.tries = nil, 0
	if f.seq == f.c.cfg.count {
		f.end()
		return
	}
	f.send()
}

// stale reports whether data is the echo of an earlier datagram of this
// flow, answered after it was sent again.
func (f *flow) stale(data []byte) bool {
	if f.c.cfg.exact {
		return false
	}
	id, rest, ok := bytes.Cut(data, []byte(" "))
	if !ok || string(id) != strconv.Itoa(f.id) {
		return false
	}
	seq, _, ok := bytes.Cut(rest, []byte(" "))
	s, err := strconv.Atoi(string(seq))
	return ok && err == nil && s < f.seq
}

// OnPacketError keeps the last error the socket reported, for the message
// of a datagram never answered: a refused datagram (nobody listening) is
// resent by the timer like a lost one.
func (f *flow) OnPacketError(pc *loop.PacketConn, err error) {
	if !errors.Is(err, loop.ErrClosed) {
		f.lastErr = err
	}
}

func (f *flow) fail(err error) {
	f.c.fails.Add(1)
	f.c.mu.Lock()
	if len(f.c.errs) < 10 {
		f.c.errs = append(f.c.errs, err.Error())
	}
	f.c.mu.Unlock()
	f.end()
}

func (f *flow) end() {
	if f.ended {
		return
	}
	f.ended = true
	if f.timer != nil {
		f.timer.Stop()
	}
	f.pc.Close()
	if f.c.left.Add(-1) == 0 {
		f.c.mu.Lock()
		f.c.elapsed = time.Since(f.c.begun)
		f.c.mu.Unlock()
		close(f.c.done)
	}
}

func (c *client) received() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.gotLast
}

func (c *client) errors() int64 { return c.fails.Load() }

func (c *client) failures() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

func (c *client) summary() string {
	c.mu.Lock()
	elapsed := c.elapsed
	c.mu.Unlock()
	if elapsed == 0 {
		elapsed = time.Since(c.begun)
	}
	v := c.verified.Load()
	return fmt.Sprintf("Summary: sockets=%d datagrams=%d bytes_sent=%d bytes_verified=%d resent=%d elapsed=%.4fs rate=%.0f/s errors=%d",
		c.cfg.sockets, v, c.bytesSent.Load(), c.bytesVerified.Load(), c.resent.Load(),
		elapsed.Seconds(), float64(v)/elapsed.Seconds(), c.fails.Load())
}
