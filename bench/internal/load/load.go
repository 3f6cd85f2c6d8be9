package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Config describes one load run.
type Config struct {
	Addr  string // host:port of the server
	Conns int    // connections, all opened before the warm-up starts
	// Depth is the number of requests each connection keeps in flight;
	// 1 (or less) is strict request/response.
	Depth   int
	Warmup  time.Duration
	Measure time.Duration
	// DialConcurrency bounds connects in flight, so a burst of thousands
	// does not overflow the server's accept queue; default 128.
	DialConcurrency int
	// DialTimeout bounds each connect, TLS handshake included; default 10s.
	DialTimeout time.Duration
	// TLS, if set, makes every connection a TLS client with it; the
	// handshake is done before the warm-up starts.
	TLS *tls.Config
	// Drain is how long connections may take, after the window, to get the
	// replies still owed to them; a reply missing after that is an error.
	// Default 3s.
	Drain    time.Duration
	Workload Workload
	// Event, if set, is called with "measure-start" and "measure-end" at
	// the edges of the measured window (from the goroutine running Run).
	Event func(string)
}

// Result is what a run measured. Counts cover the measured window only,
// except Errors, which counts every failure of the run.
type Result struct {
	Workload  string  `json:"workload"`
	Conns     int     `json:"conns"`
	Connected int     `json:"connected"`
	Size      int     `json:"size"`
	Depth     int     `json:"depth"`
	Seconds   float64 `json:"seconds"`  // length of the measured window
	Messages  int64   `json:"messages"` // replies received and verified
	Bytes     int64   `json:"bytes"`    // verified reply bytes
	MsgsPerS  float64 `json:"msgs_per_s"`
	MBPerS    float64 `json:"mb_per_s"` // verified reply bytes, 10^6 per second
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	MaxUs     float64 `json:"max_us"`
	MeanUs    float64 `json:"mean_us"`
	Errors    int64   `json:"errors"`
	// AfterMessages counts the replies verified after the window, while
	// the load stays on until the harness acknowledges the window's end
	// (-ack), and AfterSeconds is how long that was: the harness counts the
	// server's system calls then, not in the window, since counting makes
	// each call dearer.
	AfterMessages int64   `json:"after_messages,omitempty"`
	AfterSeconds  float64 `json:"after_seconds,omitempty"`
	// Lost counts datagrams of the udp workload never answered (UDP may
	// drop them); they are not errors.
	Lost int64 `json:"lost,omitempty"`
	// ErrorSamples holds the first few error messages.
	ErrorSamples []string `json:"error_samples,omitempty"`
}

const histShards = 16

// stats is shared by the connections: latency histograms sharded by
// connection so that a multi-core load generator does not serialise on one
// lock, plus the error log.
type stats struct {
	measuring atomic.Bool
	after     atomic.Bool // between the window's end and the load's stop
	shards    [histShards]struct {
		mu    sync.Mutex
		h     *hdrhistogram.Histogram
		bytes int64
		after int64    // replies verified while after is set
		_     [32]byte // keep shards on separate cache lines
	}
	errs    atomic.Int64
	errMu   sync.Mutex
	samples []string
}

func newStats() *stats {
	s := &stats{}
	for i := range s.shards {
		// Nanoseconds from 1 ns to 60 s at 3 significant digits.
		s.shards[i].h = hdrhistogram.New(1, int64(60*time.Second), 3)
	}
	return s
}

func (s *stats) record(id int, lat time.Duration, n int) {
	sh := &s.shards[id%histShards]
	if !s.measuring.Load() {
		if s.after.Load() {
			sh.mu.Lock()
			sh.after++
			sh.mu.Unlock()
		}
		return
	}
	sh.mu.Lock()
	_ = sh.h.RecordValue(max(int64(lat), 1)) // values above 60 s are dropped
	sh.bytes += int64(n)
	sh.mu.Unlock()
}

func (s *stats) fail(err error) {
	s.errs.Add(1)
	s.errMu.Lock()
	if len(s.samples) < 5 {
		s.samples = append(s.samples, err.Error())
	}
	s.errMu.Unlock()
}

// Run opens the connections, runs the closed loop through the warm-up and
// the measured window, then stops every connection and returns what the
// window saw. It returns an error only if the configuration is unusable;
// network failures are counted in Result.Errors.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Workload == nil || cfg.Conns <= 0 || cfg.Measure <= 0 {
		return Result{}, errors.New("load: need a workload, connections and a measure time")
	}
	if cfg.Depth < 1 {
		cfg.Depth = 1
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 3 * time.Second
	}
	st := newStats()
	conns := dialAll(ctx, cfg, st)

	var stop atomic.Bool
	var wg sync.WaitGroup
	start := make(chan struct{})
	for id, c := range conns {
		if c == nil {
			continue
		}
		w := &worker{id: id, c: c, wl: cfg.Workload.Conn(id), st: st, stop: &stop, depth: cfg.Depth}
		wg.Go(func() {
			<-start
			w.run()
		})
	}
	close(start)

	window, after := measure(ctx, cfg, st)

	// Stop: no new requests; replies still owed must arrive within Drain.
	stop.Store(true)
	deadline := time.Now().Add(cfg.Drain)
	for _, c := range conns {
		if c != nil {
			c.SetDeadline(deadline)
		}
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			closeNow(c)
		}
	}

	res := Result{
		Workload: cfg.Workload.Name(), Conns: cfg.Conns, Size: cfg.Workload.Size(),
		Depth: cfg.Depth, Seconds: window.Seconds(),
	}
	for _, c := range conns {
		if c != nil {
			res.Connected++
		}
	}
	h := hdrhistogram.New(1, int64(60*time.Second), 3)
	for i := range st.shards {
		sh := &st.shards[i]
		h.Merge(sh.h)
		res.Bytes += sh.bytes
	}
	res.Messages = h.TotalCount()
	if res.Messages > 0 {
		us := func(v int64) float64 { return float64(v) / 1e3 }
		res.P50us = us(h.ValueAtQuantile(50))
		res.P99us = us(h.ValueAtQuantile(99))
		res.P999us = us(h.ValueAtQuantile(99.9))
		res.MaxUs = us(h.Max())
		res.MeanUs = h.Mean() / 1e3
	}
	res.MsgsPerS = float64(res.Messages) / res.Seconds
	res.MBPerS = float64(res.Bytes) / res.Seconds / 1e6
	res.Errors = st.errs.Load()
	res.ErrorSamples = st.samples
	res.afterCounts(st, after)
	return res, nil
}

// measure waits out the warm-up, then the measured window, during which
// st counts; it tells cfg.Event of the window's ends and returns its
// length. Run and RunUDP share it so that their windows mean the same.
func measure(ctx context.Context, cfg Config, st *stats) (window, after time.Duration) {
	event := cfg.Event
	if event == nil {
		event = func(string) {}
	}
	sleep(ctx, cfg.Warmup)
	st.measuring.Store(true)
	t0 := time.Now()
	event("measure-start")
	sleep(ctx, cfg.Measure)
	st.after.Store(true)
	st.measuring.Store(false)
	t1 := time.Now()
	window = t1.Sub(t0)
	event("measure-end") // with -ack, returns when the harness says so
	st.after.Store(false)
	return window, time.Since(t1)
}

// afterCounts fills in what st counted after the window.
func (res *Result) afterCounts(st *stats, after time.Duration) {
	for i := range st.shards {
		res.AfterMessages += st.shards[i].after
	}
	res.AfterSeconds = after.Seconds()
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// closeNow closes with a reset instead of a FIN, so the load generator does
// not leave tens of thousands of sockets in TIME_WAIT between cells.
func closeNow(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn() // no close_notify: the server learns of the reset
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// dialAll opens cfg.Conns connections, at most DialConcurrency at a time.
// A connection that fails is nil in the result and counted as an error.
func dialAll(ctx context.Context, cfg Config, st *stats) []net.Conn {
	conc := cfg.DialConcurrency
	if conc <= 0 {
		conc = 128
	}
	timeout := cfg.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	dial := d.DialContext
	if cfg.TLS != nil {
		td := &tls.Dialer{NetDialer: &d, Config: cfg.TLS}
		dial = td.DialContext
	}
	conns := make([]net.Conn, cfg.Conns)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dial(ctx, "tcp", cfg.Addr)
			if err != nil {
				st.fail(fmt.Errorf("dial: %w", err))
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	return conns
}

// worker drives one connection.
type worker struct {
	id    int
	c     net.Conn
	wl    ConnWorkload
	st    *stats
	stop  *atomic.Bool
	depth int
}

func (w *worker) run() {
	if w.depth <= 1 {
		w.runSerial()
	} else {
		w.runPipelined()
	}
}

// runSerial is strict request/response: write, read the whole reply,
// verify, repeat.
func (w *worker) runSerial() {
	var req, resp []byte
	for seq := uint64(0); !w.stop.Load(); seq++ {
		req = w.wl.AppendRequest(req[:0], seq)
		n := w.wl.ResponseLen(seq)
		if cap(resp) < n {
			resp = make([]byte, n)
		}
		t0 := time.Now()
		if _, err := w.c.Write(req); err != nil {
			w.st.fail(fmt.Errorf("conn %d: write: %w", w.id, err))
			return
		}
		if _, err := io.ReadFull(w.c, resp[:n]); err != nil {
			w.st.fail(fmt.Errorf("conn %d: reading reply %d: %w", w.id, seq, err))
			return
		}
		lat := time.Since(t0)
		if !w.wl.Verify(seq, resp[:n]) {
			w.st.fail(fmt.Errorf("conn %d: reply %d does not match its request", w.id, seq))
			return
		}
		w.st.record(w.id, lat, n)
	}
}

// runPipelined keeps depth requests in flight: a writer goroutine sends a
// request for every credit the reader hands back (as many at once as it
// has credits, in one write), and the reader verifies replies in order.
func (w *worker) runPipelined() {
	credits := make(chan struct{}, w.depth)
	for range w.depth {
		credits <- struct{}{}
	}
	sentAt := make([]atomic.Int64, w.depth) // send time of seq, at seq%depth
	var sent, received atomic.Uint64
	var writerDone atomic.Bool
	base := time.Now()
	failed := make(chan struct{})
	var failOnce sync.Once
	fail := func(err error) {
		failOnce.Do(func() {
			if !w.stop.Load() || !errors.Is(err, os.ErrDeadlineExceeded) || received.Load() != sent.Load() {
				w.st.fail(err)
			}
			close(failed)
			w.c.SetDeadline(time.Now()) // wake the other side
		})
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() {
			writerDone.Store(true)
			if received.Load() == sent.Load() {
				// Nothing is owed: wake the reader if it waits for more.
				w.c.SetReadDeadline(time.Now())
			}
		}()
		var buf []byte
		for seq := uint64(0); ; {
			select {
			case <-credits:
			case <-failed:
				return
			}
			k := 1
		more:
			for k < w.depth {
				select {
				case <-credits:
					k++
				default:
					break more
				}
			}
			if w.stop.Load() {
				return
			}
			buf = buf[:0]
			now := int64(time.Since(base))
			for range k {
				sentAt[seq%uint64(w.depth)].Store(now)
				buf = w.wl.AppendRequest(buf, seq)
				seq++
			}
			sent.Store(seq)
			if _, err := w.c.Write(buf); err != nil {
				fail(fmt.Errorf("conn %d: write: %w", w.id, err))
				return
			}
		}
	})

	size := 0
	for i := range uint64(w.depth) {
		size += w.wl.ResponseLen(i)
	}
	br := bufio.NewReaderSize(w.c, min(64<<10, max(4<<10, 2*size)))
	var resp []byte
	for seq := uint64(0); ; seq++ {
		if writerDone.Load() && received.Load() == sent.Load() {
			break
		}
		n := w.wl.ResponseLen(seq)
		if cap(resp) < n {
			resp = make([]byte, n)
		}
		if _, err := io.ReadFull(br, resp[:n]); err != nil {
			if writerDone.Load() && received.Load() == sent.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
				break // the writer's wake-up: everything owed has arrived
			}
			fail(fmt.Errorf("conn %d: reading reply %d: %w", w.id, seq, err))
			break
		}
		lat := time.Since(base) - time.Duration(sentAt[seq%uint64(w.depth)].Load())
		if !w.wl.Verify(seq, resp[:n]) {
			fail(fmt.Errorf("conn %d: reply %d does not match its request", w.id, seq))
			break
		}
		w.st.record(w.id, lat, n)
		received.Store(seq + 1)
		credits <- struct{}{}
	}
	select {
	case <-failed:
	default:
		// The writer may wait for a credit after the reader stopped.
		failOnce.Do(func() { close(failed) })
	}
	wg.Wait()
}

// Idle opens n connections (TLS ones, handshake done, if tlsCfg is set) and
// holds them, sending nothing, until ctx ends; ready is called once they
// are all open. It returns how many connected and the dial errors.
func Idle(ctx context.Context, addr string, n int, tlsCfg *tls.Config, ready func(connected int)) (connected int, errs int64, samples []string) {
	st := newStats()
	conns := dialAll(ctx, Config{Addr: addr, Conns: n, TLS: tlsCfg}, st)
	for _, c := range conns {
		if c != nil {
			connected++
		}
	}
	if ready != nil {
		ready(connected)
	}
	<-ctx.Done()
	for _, c := range conns {
		if c != nil {
			closeNow(c)
		}
	}
	return connected, st.errs.Load(), st.samples
}
