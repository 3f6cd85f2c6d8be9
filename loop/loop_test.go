package loop

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEchoBackends(t *testing.T) {
	for _, backend := range evsel.Backends() {
		t.Run(backend, func(t *testing.T) {
			_, addr := start(t, echo, Options{Loops: 2, Backend: backend})
			c := dial(t, addr)
			msg := bytes.Repeat([]byte("evsel!"), 50000) // larger than any socket buffer
			assert.Equal(t, msg, roundTrip(t, c, msg))
		})
	}
}

// TestManyConnections is the engine's main correctness load: thousands of
// connections at once, on both sides (the client side is an engine too, so
// Dial is exercised at the same scale), random payloads of mixed sizes, every
// byte compared.
func TestManyConnections(t *testing.T) {
	const conns = 5000
	testenv.NeedLocalPorts(t, conns)
	server, addr := start(t, echo, Options{Loops: 2})

	random := make([]byte, 256<<10)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	sizes := []int{1, 17, 100, 1000, 4 << 10, 32 << 10, 200 << 10}
	type state struct {
		want []byte             // what was sent
		got  int                // how much of it came back, verified
		stop context.CancelFunc // ends the connect's own 10 s deadline
	}
	var verified, failures, opened, ended atomic.Int64
	var done sync.WaitGroup
	done.Add(conns)
	all := make(chan *Conn, conns)
	client, err := New(Funcs{
		Open: func(c *Conn) {
			c.Data().(*state).stop()
			// Nobody sends until every connection is open, so all of them
			// are really concurrent.
			all <- c
			if opened.Add(1) == conns {
				close(all)
				for c := range all {
					c.Do(func(c *Conn) { c.Write(c.Data().(*state).want) })
				}
			}
		},
		Data: func(c *Conn) {
			s := c.Data().(*state)
			in := c.Inbound()
			if !bytes.Equal(in, s.want[s.got:s.got+len(in)]) {
				failures.Add(1)
				c.Abort(nil)
				return
			}
			s.got += len(in)
			verified.Add(int64(len(in)))
			c.Consume(len(in))
			if s.got == len(s.want) {
				c.Close()
			}
		},
		Close: func(c *Conn, err error) {
			s := c.Data().(*state)
			s.stop()
			if s.got != len(s.want) {
				failures.Add(1)
				t.Errorf("connection closed after %d of %d bytes: %v", s.got, len(s.want), err)
			}
			ended.Add(1)
			done.Done()
		},
	}, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, client)

	var sent int64
	pending := max(testenv.Backlog()/2, 1)
	dialing := time.Now().Add(testenv.Bound(50 * time.Second))
	for i := 0; i < conns; i++ {
		// The kernel does not queue past the listener's backlog: it drops
		// the handshakes, and resets the connections it answered with SYN
		// cookies, which their client took as open. Until all are open,
		// only a failed dial ends one.
		for i-int(server.Stats().Accepted)-int(ended.Load()) >= pending {
			require.True(t, time.Now().Before(dialing), "the server accepted %d of %d connections dialed", server.Stats().Accepted, i)
			time.Sleep(time.Millisecond)
		}
		// Mostly small messages with a tail of large ones, like real traffic.
		size := sizes[min(int(rand.ExpFloat64()*2), len(sizes)-1)]
		off := rand.IntN(len(random) - size)
		sent += int64(size)
		ctx, stop := context.WithTimeout(context.Background(), testenv.Bound(10*time.Second))
		_, err := client.Dial(ctx, "tcp", addr, WithData(&state{want: random[off : off+size], stop: stop}))
		if err != nil {
			stop()
		}
		require.NoError(t, err)
	}
	waitDone(t, &done, testenv.Bound(50*time.Second))
	t.Logf("%d connections echoed %d bytes", conns, sent)
	assert.Zero(t, failures.Load())
	assert.Equal(t, sent, verified.Load())
	waitFor(t, "server to close all", func() bool { return server.Stats().Open == 0 })
	st := server.Stats()
	assert.EqualValues(t, conns, st.Accepted)
	assert.Equal(t, sent, st.BytesIn)
	assert.Equal(t, sent, st.BytesOut)
	assert.EqualValues(t, conns, client.Stats().Dialed)
}

func waitDone(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
		// Where each loop is tells a stuck loop from a slow system call.
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "(*Loop).run") {
				t.Log(g)
			}
		}
		t.Fatal("timed out")
	}
}

// TestPartialFrames checks the zero-copy contract: a handler consumes only
// whole frames, and the half-received rest is handed back with what follows.
func TestPartialFrames(t *testing.T) {
	var frames atomic.Int64
	h := Funcs{Data: func(c *Conn) {
		for {
			in := c.Inbound()
			if len(in) < 4 {
				return
			}
			n := int(binary.BigEndian.Uint32(in))
			if len(in) < 4+n {
				return
			}
			c.Write(in[:4+n])
			c.Consume(4 + n)
			frames.Add(1)
		}
	}}
	_, addr := start(t, h, Options{Loops: 1, ReadBufferSize: 1024})
	c := dial(t, addr)
	var stream []byte
	for i := 0; i < 200; i++ {
		body := bytes.Repeat([]byte{byte(i)}, rand.IntN(5000))
		stream = binary.BigEndian.AppendUint32(stream, uint32(len(body)))
		stream = append(stream, body...)
	}
	go func() {
		// Dribble the stream in odd pieces so frames straddle reads.
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), 1+rand.IntN(3000))
			c.Write(rest[:n])
			rest = rest[n:]
		}
	}()
	got := make([]byte, len(stream))
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, stream, got)
	assert.EqualValues(t, 200, frames.Load())
}

// TestSlowReaderBounded: a client that never reads must not make the server
// buffer without bound, and must not slow anyone else down.
func TestSlowReaderBounded(t *testing.T) {
	const high = 256 << 10
	var maxBuffered atomic.Int64
	h := Funcs{Data: func(c *Conn) {
		c.Write(c.Inbound())
		c.Consume(len(c.Inbound()))
		if b := int64(c.Buffered()); b > maxBuffered.Load() {
			maxBuffered.Store(b)
		}
	}}
	e, addr := start(t, h, Options{Loops: 1, HighWater: high, ReadBufferSize: 16 << 10})

	stuck := dial(t, addr)
	var written atomic.Int64
	go func() {
		// written counts whole writes only: small ones, so that it passes
		// the mark with the few KiB that small kernel buffers hold past it.
		chunk := make([]byte, 1<<10)
		stuck.SetWriteDeadline(time.Now().Add(3 * time.Second))
		for {
			n, err := stuck.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	// The writer stalls once the server stops reading and every kernel
	// buffer on the way is full.
	var last int64 = -1
	waitFor(t, "the stuck writer to stall", func() bool {
		time.Sleep(100 * time.Millisecond)
		w := written.Load()
		stalled := w == last && w > 0
		last = w
		return stalled
	})
	// Meanwhile another connection on the same loop is served normally.
	other := dial(t, addr)
	msg := []byte("still served")
	assert.Equal(t, msg, roundTrip(t, other, msg))

	st := e.Stats()
	assert.LessOrEqual(t, maxBuffered.Load(), int64(high+16<<10),
		"pending output must stop growing at the high-water mark (plus one read)")
	// What came in and has not gone out: the stuck connection's output
	// (at most the bound above, reached exactly now that the writer
	// writes 1 KiB at a time) and, on io_uring, the other's echo when its
	// send's completion has not been counted yet though its peer has it.
	assert.LessOrEqual(t, st.BytesIn-st.BytesOut, int64(high+16<<10+len(msg)))
	assert.Greater(t, written.Load(), int64(high), "the writer did push past the mark")
}

// TestBackpressureResumes: once the slow reader drains, reading resumes and
// every byte arrives in order.
func TestBackpressureResumes(t *testing.T) {
	// Small socket buffers on the way back, so that the server's output
	// passes HighWater whatever the system's defaults.
	_, addr := start(t, echo, Options{Loops: 1, HighWater: 64 << 10, ReadBufferSize: 8 << 10, SocketWriteBuffer: smallSendBuffer})
	c := dialSmall(t, addr)
	msg := pattern(8 << 20)
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	go c.Write(msg)
	time.Sleep(200 * time.Millisecond) // let the server pause on us
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(msg, got))
}

// TestHalfClose: the client shuts down its sending side; the server still
// delivers every echoed byte, then closes with io.EOF as the reason.
func TestHalfClose(t *testing.T) {
	reasons := make(chan error, 1)
	h := echo
	h.Close = func(c *Conn, err error) { reasons <- err }
	_, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr).(*net.TCPConn)
	msg := bytes.Repeat([]byte("half"), 200000)
	go func() {
		c.Write(msg)
		c.CloseWrite()
	}()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(c) // ends at the server's close
	require.NoError(t, err)
	assert.Equal(t, len(msg), len(got))
	assert.ErrorIs(t, <-reasons, io.EOF)
}

// TestResetMidWrite: a peer that resets while the server still has output
// for it gets a per-connection error; the loop keeps serving.
func TestResetMidWrite(t *testing.T) {
	reasons := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			c.Write(make([]byte, 8<<20)) // far more than the socket takes (its buffers are small)
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}
	_, addr := start(t, h, Options{Loops: 1, SocketWriteBuffer: smallSendBuffer})
	c := dialSmall(t, addr).(*net.TCPConn)
	_, err := c.Write([]byte("go"))
	require.NoError(t, err)
	buf := make([]byte, 1000)
	_, err = io.ReadFull(c, buf) // the server is writing now
	require.NoError(t, err)
	require.NoError(t, c.SetLinger(0))
	require.NoError(t, c.Close()) // RST with unread data

	select {
	case err := <-reasons:
		require.Error(t, err)
		assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "got %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no close after reset")
	}
	other := dial(t, addr)
	_, err = other.Write([]byte("x"))
	require.NoError(t, err)
	_, err = io.ReadFull(other, buf[:1000])
	require.NoError(t, err, "the loop still serves others")
}

// TestStopFlushesPendingOutput: Stop lets queued output reach a peer that
// only starts reading later, then closes.
func TestStopFlushesPendingOutput(t *testing.T) {
	const size = 4 << 20
	opened := make(chan struct{})
	h := Funcs{Open: func(c *Conn) {
		c.Write(bytes.Repeat([]byte{'s'}, size))
		close(opened)
	}}
	// Small socket buffers, so that the output is queued in the engine
	// whatever the system's defaults.
	e, err := New(h, Options{Loops: 1, Logger: quietLog, SocketWriteBuffer: smallSendBuffer})
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := dialSmall(t, addr.String())
	<-opened
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- e.Stop(ctx)
	}()
	time.Sleep(100 * time.Millisecond) // Stop is now waiting on our output
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) before the peer read: the kernel took the output", err)
	default:
	}
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, size, len(got))
	assert.NoError(t, <-stopped)
	_, err = e.Listen("tcp", "127.0.0.1:0")
	assert.ErrorIs(t, err, ErrStopped)
}

// TestStopForcedByContext: a peer that never reads cannot hold Stop beyond
// its context.
func TestStopForcedByContext(t *testing.T) {
	reasons := make(chan error, 1)
	h := Funcs{
		Open:  func(c *Conn) { c.Write(make([]byte, 16<<20)) },
		Close: func(c *Conn, err error) { reasons <- err },
	}
	// Small socket buffers: the kernel cannot take the 16 MiB, whatever
	// the system's defaults, and the output stays pending.
	e, err := New(h, Options{Loops: 1, Logger: quietLog, SocketWriteBuffer: smallSendBuffer})
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dialSmall(t, addr.String())
	waitFor(t, "the connection", func() bool { return e.Stats().Open == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, e.Stop(ctx), context.DeadlineExceeded)
	assert.ErrorIs(t, <-reasons, ErrStopped)
	assert.EqualValues(t, 0, e.Stats().Open)
}

// TestAsyncWritesFromManyGoroutines: 100 goroutines write to one connection;
// every record arrives whole and each goroutine's records in order.
func TestAsyncWritesFromManyGoroutines(t *testing.T) {
	const writers, each, recLen = 100, 200, 17
	conns := make(chan *Conn, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { conns <- c }}, Options{Loops: 2})
	client := dial(t, addr)
	c := <-conns
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; seq < each; seq++ {
				rec := fmt.Sprintf("%04d:%06d:%04d\n", g, seq, g) // recLen bytes
				if seq%2 == 0 {
					assert.NoError(t, c.AsyncWrite([]byte(rec)))
				} else {
					assert.NoError(t, c.AsyncWritev([][]byte{[]byte(rec[:5]), []byte(rec[5:])}))
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, client.SetDeadline(time.Now().Add(10*time.Second)))
	all := make([]byte, writers*each*recLen)
	_, err := io.ReadFull(client, all)
	require.NoError(t, err)
	next := make([]int, writers)
	for i := 0; i < len(all); i += recLen {
		var g, seq, g2 int
		_, err := fmt.Sscanf(string(all[i:i+recLen]), "%04d:%06d:%04d\n", &g, &seq, &g2)
		require.NoError(t, err, "record %q torn", all[i:i+recLen])
		require.Equal(t, g, g2, "record torn")
		require.Equal(t, next[g], seq, "goroutine %d out of order", g)
		next[g]++
	}
	assert.NoError(t, c.AsyncClose(nil))
	waitFor(t, "close", func() bool { return c.closed.Load() })
	assert.ErrorIs(t, c.AsyncWrite([]byte("late")), ErrClosed)
}

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	reasons := make(chan error, 2)
	h := Funcs{
		Data: func(c *Conn) {
			if bytes.Contains(c.Inbound(), []byte("boom")) {
				panic("handler bug")
			}
			echo.Data(c)
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}
	_, addr := start(t, h, Options{Loops: 1})
	good := dial(t, addr)
	bad := dial(t, addr)
	_, err := bad.Write([]byte("boom"))
	require.NoError(t, err)
	var perr *PanicError
	require.ErrorAs(t, <-reasons, &perr)
	assert.Equal(t, "handler bug", perr.Value)
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bad.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, []byte("fine"), roundTrip(t, good, []byte("fine")))
}

func TestIdleTimeout(t *testing.T) {
	reasons := make(chan error, 1)
	h := echo
	h.Close = func(c *Conn, err error) { reasons <- err }
	const timeout = 500 * time.Millisecond
	_, addr := start(t, h, Options{Loops: 1, IdleTimeout: timeout})
	c := dial(t, addr)
	// Activity keeps it open for twice the timeout, in gaps far shorter
	// than it, so that a sleep a loaded machine overruns does not end it.
	for begin := time.Now(); time.Since(begin) < 2*timeout; {
		time.Sleep(10 * time.Millisecond)
		assert.Equal(t, []byte("hi"), roundTrip(t, c, []byte("hi")))
	}
	// ...silence closes it.
	select {
	case err := <-reasons:
		assert.ErrorIs(t, err, ErrIdleTimeout)
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection not closed")
	}
}

func TestInputLimit(t *testing.T) {
	reasons := make(chan error, 1)
	h := Funcs{Close: func(c *Conn, err error) { reasons <- err }} // never consumes
	_, addr := start(t, h, Options{Loops: 1, MaxInput: 64 << 10, ReadBufferSize: 16 << 10})
	c := dial(t, addr)
	go c.Write(make([]byte, 1<<20))
	select {
	case err := <-reasons:
		assert.ErrorIs(t, err, ErrInputOverflow)
	case <-time.After(5 * time.Second):
		t.Fatal("unconsumed input not limited")
	}
}

func TestTimers(t *testing.T) {
	e, _ := start(t, Funcs{}, Options{Loops: 2})
	var fired, ticks atomic.Int64
	cancelled := make(chan bool, 1)
	require.NoError(t, e.Loops()[0].Do(func() {
		l := e.Loops()[0]
		// Deadlines as far off as a Duration goes saturate on the loop's
		// clock instead of wrapping round to the past.
		l.AfterFunc(math.MaxInt64, func() { fired.Add(1000) })
		l.Every(math.MaxInt64, func() { fired.Add(1000) })
		l.AfterFunc(10*time.Millisecond, func() { fired.Add(1) })
		t2 := l.AfterFunc(10*time.Millisecond, func() { fired.Add(100) })
		cancelled <- t2.Stop()
		var every *Timer
		every = l.Every(5*time.Millisecond, func() {
			if ticks.Add(1) == 3 {
				every.Stop()
			}
		})
	}))
	assert.True(t, <-cancelled)
	waitFor(t, "timers", func() bool { return fired.Load() == 1 && ticks.Load() == 3 })
	time.Sleep(30 * time.Millisecond)
	assert.EqualValues(t, 1, fired.Load(), "a stopped timer never fires")
	assert.EqualValues(t, 3, ticks.Load(), "a stopped Every timer stops")
}

// TestTimerInThePast: a timer set for a deadline long past fires at once,
// even when it is set after the iteration's timers ran (here in an
// OnClose that a timer's Close brought), so that the loop's next wait is
// computed from it. A deadline of math.MinInt64 once made that wait
// wrap round to nearly forever.
func TestTimerInThePast(t *testing.T) {
	fired := make(chan struct{})
	_, addr := start(t, Funcs{
		Open: func(c *Conn) {
			c.Loop().AfterFunc(time.Millisecond, func() { c.Close() })
		},
		Close: func(c *Conn, err error) {
			c.Loop().AfterFunc(math.MinInt64, func() { close(fired) })
		},
	}, Options{Loops: 1})
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("a timer set in the past did not fire")
	}
}

// TestTimerSetAgainForNow: a timer whose function sets it again for now
// (Reset(0), or AfterFunc(0) of the same function) fires once per
// iteration, not for ever within one: the loop serves its connections
// meanwhile, and the timer keeps firing until it is left alone.
func TestTimerSetAgainForNow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset bool
	}{{"Reset", true}, {"AfterFunc", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e, addr := start(t, echo, Options{Loops: 1})
			var stop atomic.Bool
			t.Cleanup(func() { stop.Store(true) }) // before the engine stops, on a failure too
			var fired atomic.Int64
			l := e.Loops()[0]
			var tm *Timer
			var fn func()
			fn = func() {
				if stop.Load() {
					return
				}
				fired.Add(1)
				if tc.reset {
					tm.Reset(0)
				} else {
					l.AfterFunc(0, fn)
				}
			}
			require.NoError(t, l.Do(func() { tm = l.AfterFunc(0, fn) }))
			waitFor(t, "the timer", func() bool { return fired.Load() > 0 })

			c := dial(t, addr)
			require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
			buf := make([]byte, 5)
			for range 3 {
				_, err := c.Write([]byte("hello"))
				require.NoError(t, err)
				_, err = io.ReadFull(c, buf)
				require.NoError(t, err, "the loop no longer serves")
			}
			n := fired.Load()
			waitFor(t, "the timer to fire again, iterations later", func() bool { return fired.Load() > n+10 })
		})
	}
}

// goroutineID identifies the calling goroutine, for tests only: a loop is
// one goroutine, so "on the right loop" means "on that goroutine".
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1] // "goroutine 42 [running]:"
}

// TestTimersRunOnTheirLoop: a timer made on a loop fires on that loop's
// goroutine, never on another loop's, even with both loops busy.
func TestTimersRunOnTheirLoop(t *testing.T) {
	e, _ := start(t, Funcs{}, Options{Loops: 2})
	type check struct{ want, got string }
	results := make(chan check, 2*20)
	for _, l := range e.Loops() {
		require.NoError(t, l.Do(func() {
			owner := goroutineID()
			for i := 0; i < 20; i++ {
				l.AfterFunc(time.Duration(i)*time.Millisecond, func() {
					results <- check{owner, goroutineID()}
				})
			}
		}))
	}
	owners := map[string]bool{}
	for i := 0; i < 2*20; i++ {
		r := <-results
		assert.Equal(t, r.want, r.got, "timer fired on another goroutine")
		owners[r.want] = true
	}
	assert.Len(t, owners, 2, "each loop is its own goroutine")
}

func TestOnTick(t *testing.T) {
	var ticks [2]atomic.Int64
	e, _ := start(t, Funcs{}, Options{Loops: 2, TickInterval: 5 * time.Millisecond, OnTick: func(l *Loop) { ticks[l.ID()].Add(1) }})
	waitFor(t, "ticks on every loop", func() bool { return ticks[0].Load() >= 3 && ticks[1].Load() >= 3 })
	_ = e
}

// TestDial covers the client side: connect, exchange, refused, timeout.
func TestDial(t *testing.T) {
	_, addr := start(t, echo, Options{Loops: 1})
	type result struct {
		data []byte
		err  error
	}
	results := make(chan result, 4)
	var got []byte
	client, err := New(Funcs{
		Open: func(c *Conn) { c.Write([]byte("ping")) },
		Data: func(c *Conn) {
			got = append(got, c.Inbound()...)
			c.Consume(len(c.Inbound()))
			if len(got) == 4 {
				c.Close()
			}
		},
		Close: func(c *Conn, err error) { results <- result{got, err} },
	}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, client)

	_, err = client.Dial(context.Background(), "tcp", addr)
	require.NoError(t, err)
	r := <-results
	assert.NoError(t, r.err)
	assert.Equal(t, []byte("ping"), r.data)

	// Refused: a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := l.Addr().String()
	l.Close()
	_, err = client.Dial(context.Background(), "tcp", closedAddr)
	require.NoError(t, err)
	assert.ErrorIs(t, (<-results).err, syscall.ECONNREFUSED)

}

func TestBalancing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"round-robin", Options{Loops: 2, Balance: RoundRobin}},
		{"least-connections", Options{Loops: 2, Balance: LeastConnections}},
		{"reuseport", Options{Loops: 2, ReusePort: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, addr := start(t, echo, tc.opts)
			var cs []net.Conn
			for i := 0; i < 40; i++ {
				c := dial(t, addr)
				assert.Equal(t, []byte("x"), roundTrip(t, c, []byte("x")))
				cs = append(cs, c)
			}
			a, b := e.Loops()[0].Stats().Open, e.Loops()[1].Stats().Open
			assert.EqualValues(t, 40, a+b)
			if tc.name == "reuseport" {
				// The kernel hashes connections: expect both loops used.
				assert.True(t, a > 0 && b > 0, "loops got %d and %d", a, b)
			} else {
				assert.InDelta(t, 20, a, 1, "loops got %d and %d", a, b)
			}
		})
	}
}

// TestReusePortKeepsConnections checks that with ReusePort a loop serves
// what its own listener accepts: with loop 1's listener gone, the kernel
// gives every connection to loop 0, and while loop 1 is blocked all of them
// must still be served (dealt round-robin, half would wait for loop 1).
func TestReusePortKeepsConnections(t *testing.T) {
	e, addr := start(t, echo, Options{Loops: 2, ReusePort: true})
	l1 := e.Loops()[1]
	var own int
	require.NoError(t, e.onLoop(l1, func() error {
		// No require here: FailNow on a loop goroutine would end the loop.
		if own = len(l1.listeners); own == 1 {
			l1.listeners[0].close()
		}
		return nil
	}))
	if own == 0 {
		t.Skip("no SO_REUSEPORT on this platform: one listener deals out every connection")
	}
	release := make(chan struct{})
	require.NoError(t, l1.Do(func() { <-release }))
	defer close(release)
	for range 16 {
		c := dial(t, addr)
		assert.Equal(t, []byte("x"), roundTrip(t, c, []byte("x")))
	}
	assert.EqualValues(t, 16, e.Loops()[0].Stats().Open)
}

// TestWriteAfterCloseAndStats checks the small contracts around closing.
func TestWriteAfterClose(t *testing.T) {
	errs := make(chan error, 2)
	h := Funcs{Open: func(c *Conn) {
		c.Write([]byte("bye"))
		c.Close()
		_, err := c.Write([]byte("more"))
		errs <- err
	}, Close: func(c *Conn, err error) { errs <- err }}
	_, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr)
	assert.ErrorIs(t, <-errs, ErrClosed)
	assert.NoError(t, <-errs, "a close asked for by the application has a nil reason")
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "bye", string(got))
}

// TestWriteDirectKeepsOrder: writes of directWrite bytes or more go to the
// socket at once when nothing is pending, smaller ones are queued. Mixed in
// one callback, and with the peer not reading at first (so a direct write
// is cut short and the rest queues behind), the bytes still arrive whole
// and in order.
func TestWriteDirectKeepsOrder(t *testing.T) {
	var writes [][]byte
	var want []byte
	for i := range 64 {
		size := 1 + i%7
		if i%3 == 0 {
			size = directWrite + i
		}
		p := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		writes = append(writes, p)
		want = append(want, p...)
	}
	h := Funcs{Data: func(c *Conn) {
		c.Consume(len(c.Inbound()))
		for _, p := range writes {
			if _, err := c.Write(p); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}}
	_, addr := start(t, h, Options{Loops: 1, HighWater: 64 << 20, MaxOutput: 64 << 20})
	c := dial(t, addr)
	_, err := c.Write([]byte("go"))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the loop writes into a socket nobody reads yet
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, len(want))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "the stream arrives in the order written")
}
