package loop

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opened starts an engine whose handler hands each new connection to the
// channel, and dials it once.
func opened(t *testing.T, opts Options) (*Engine, *Conn, net.Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	e, addr := start(t, Funcs{Open: func(c *Conn) { conns <- c }}, opts)
	peer := dial(t, addr)
	return e, within(t, conns, 5*time.Second, "no connection opened"), peer
}

// busy occupies l with a task until the returned function is called, and
// returns once the task runs: what is queued meanwhile waits behind it.
func busy(t *testing.T, l *Loop, then func()) (release func()) {
	t.Helper()
	running, free := make(chan struct{}), make(chan struct{})
	require.NoError(t, l.Do(func() {
		close(running)
		<-free
		if then != nil {
			then()
		}
	}))
	within(t, running, 5*time.Second, "the loop did not take the task")
	return func() { close(free) }
}

// TestDoWait: the function runs on the loop, and what it stored is the
// caller's to read once DoWait returns (the race detector checks the
// ordering); a connection's DoWait writes to it from there.
func TestDoWait(t *testing.T) {
	e, c, peer := opened(t, Options{Loops: 1})
	l := e.Loops()[0]
	var buffered, onLoop = -1, false
	require.NoError(t, l.DoWait(context.Background(), func() { onLoop = e.OnLoopGoroutine() }))
	assert.True(t, onLoop)
	require.NoError(t, c.DoWait(context.Background(), func(c *Conn) {
		c.Write([]byte("hello"))
		buffered = c.Buffered() // queued, sent when the task returns
	}))
	assert.Equal(t, 5, buffered)
	got := make([]byte, 5)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadFull(peer, got)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
}

// TestDoWaitClosed: on a closed connection fn does not run and DoWait
// says ErrClosed, whether it was closed before the call or before the loop
// took it.
func TestDoWaitClosed(t *testing.T) {
	e, c, _ := opened(t, Options{Loops: 1})
	release := busy(t, e.Loops()[0], func() { c.Abort(nil) })
	ran := make(chan struct{}, 2)
	got := make(chan error, 1)
	go func() { got <- c.DoWait(context.Background(), func(*Conn) { ran <- struct{}{} }) }()
	waitFor(t, "the call queued", func() bool { return c.loop.tasks.pending() })
	release()
	assert.ErrorIs(t, within(t, got, 5*time.Second, "DoWait did not return"), ErrClosed)
	assert.ErrorIs(t, c.DoWait(context.Background(), func(*Conn) { ran <- struct{}{} }), ErrClosed)
	assert.Empty(t, ran, "fn ran on a closed connection")
}

// TestDoWaitContext: a ctx that ends before the loop takes fn returns its
// error, and fn never runs, even once the loop is free; one ended before
// the call returns at once.
func TestDoWaitContext(t *testing.T) {
	e, c, _ := opened(t, Options{Loops: 1})
	l := e.Loops()[0]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := make(chan struct{}, 3)
	assert.ErrorIs(t, l.DoWait(ctx, func() { ran <- struct{}{} }), context.Canceled)

	release := busy(t, l, nil)
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, l.DoWait(ctx, func() { ran <- struct{}{} }), context.DeadlineExceeded)
	assert.ErrorIs(t, c.DoWait(ctx, func(*Conn) { ran <- struct{}{} }), context.DeadlineExceeded)
	release()
	require.NoError(t, l.DoWait(context.Background(), func() {})) // the abandoned ones came first
	assert.Empty(t, ran, "an abandoned function ran")
}

// TestDoWaitPanic: a panic in fn comes back as the *PanicError; a
// connection's closes with it, the loop serves on.
func TestDoWaitPanic(t *testing.T) {
	closed := make(chan error, 1)
	conns := make(chan *Conn, 1)
	e, addr := start(t, Funcs{
		Open:  func(c *Conn) { conns <- c },
		Close: func(c *Conn, err error) { closed <- err },
		Data: func(c *Conn) {
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
	}, Options{Loops: 1})
	dial(t, addr)
	c := within(t, conns, 5*time.Second, "no connection opened")
	err := c.DoWait(context.Background(), func(*Conn) { panic("boom") })
	var perr *PanicError
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "boom", perr.Value)
	assert.ErrorAs(t, within(t, closed, 5*time.Second, "the connection stayed open"), &perr)

	err = e.Loops()[0].DoWait(context.Background(), func() { panic("bang") })
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "bang", perr.Value)
	peer := dial(t, addr)
	assert.Equal(t, "still", string(roundTrip(t, peer, []byte("still"))))
}

// TestDoWaitOnLoop: on a loop goroutine DoWait would wait for itself (or
// block its loop): ErrOnLoop at once, from either loop.
func TestDoWaitOnLoop(t *testing.T) {
	e, c, _ := opened(t, Options{Loops: 2})
	for _, l := range e.Loops() {
		got := make(chan [2]error, 1)
		require.NoError(t, l.Do(func() {
			got <- [2]error{
				l.DoWait(context.Background(), func() {}),
				c.DoWait(context.Background(), func(*Conn) {}),
			}
		}))
		errs := within(t, got, 5*time.Second, "the task did not run")
		assert.ErrorIs(t, errs[0], ErrOnLoop)
		assert.ErrorIs(t, errs[1], ErrOnLoop)
	}
}

// TestDoWaitStopped: calls still queued when the loop exits are answered
// and their functions do not run: ErrStopped for the loop's, ErrClosed for
// a connection's, which closed with it; calls after the exit say the same
// at once.
func TestDoWaitStopped(t *testing.T) {
	conns := make(chan *Conn, 1)
	e, err := New(Funcs{Open: func(c *Conn) { conns <- c }}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dial(t, addr.String())
	c := within(t, conns, 5*time.Second, "no connection opened")
	l := e.Loops()[0]
	// The loop exits in the iteration in which it stops with no
	// connections left, after running that iteration's tasks and timers:
	// calls queued while a timer holds it are left to shutdown.
	inTimer, release := make(chan struct{}), make(chan struct{})
	require.NoError(t, l.Do(func() {
		l.AfterFunc(0, func() {
			close(inTimer)
			<-release
			l.beginStop() // closes c, which has nothing pending, at once
		})
	}))
	within(t, inTimer, 5*time.Second, "the timer did not run")
	ran := make(chan struct{}, 4)
	loopErr, connErr := make(chan error, 1), make(chan error, 1)
	go func() { loopErr <- l.DoWait(context.Background(), func() { ran <- struct{}{} }) }()
	go func() { connErr <- c.DoWait(context.Background(), func(*Conn) { ran <- struct{}{} }) }()
	waitFor(t, "both calls queued", func() bool { return l.tasks.queued.Load() == 2 })
	close(release)
	assert.ErrorIs(t, within(t, loopErr, 5*time.Second, "the loop's call was not answered"), ErrStopped)
	assert.ErrorIs(t, within(t, connErr, 5*time.Second, "the connection's call was not answered"), ErrClosed)
	stop(t, e)
	assert.ErrorIs(t, l.DoWait(context.Background(), func() { ran <- struct{}{} }), ErrStopped)
	assert.ErrorIs(t, c.DoWait(context.Background(), func(*Conn) { ran <- struct{}{} }), ErrClosed)
	assert.Empty(t, ran)
}

// TestDoWaitAllocs: Loop.DoWait allocates nothing of its own (the waiter
// and its channel are pooled), as WriteWait does not.
func TestDoWaitAllocs(t *testing.T) {
	e, _, _ := opened(t, Options{Loops: 1})
	l := e.Loops()[0]
	n := 0
	fn := func() { n++ }
	call := func() { require.NoError(t, l.DoWait(context.Background(), fn)) }
	call()
	assert.Zero(t, testing.AllocsPerRun(500, call))
}

// BenchmarkDoWait: a goroutine asking the loop for a connection's
// Buffered and waiting for the answer, with Do and a channel of its own
// (the loop not told it woke anyone) and with DoWait. Run it with
// -cpu 1,2: with one P the caller and the loop share it, and slow-calls/op
// is the share of calls over a millisecond, the caller having waited out
// the loop's wait.
func BenchmarkDoWait(b *testing.B) {
	for _, bc := range []struct {
		name string
		ask  func(c *Conn) int
	}{
		{"Do+chan", func(c *Conn) int {
			answer := make(chan int, 1)
			c.Do(func(c *Conn) { answer <- c.Buffered() })
			return <-answer
		}},
		{"DoWait", func(c *Conn) int {
			n := -1
			c.DoWait(context.Background(), func(c *Conn) { n = c.Buffered() })
			return n
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, stop := benchConn(b)
			defer stop()
			timedCalls(b, func() {
				if bc.ask(c) != 0 {
					b.Fatal("wrong answer")
				}
			})
		})
	}
}

// TestDoWaitContextEndsWhileRunning: once the loop has taken fn, DoWait
// waits for it and returns its answer, even though ctx ends meanwhile;
// what fn stored is the caller's to read (the race detector checks).
func TestDoWaitContextEndsWhileRunning(t *testing.T) {
	e, _ := start(t, Funcs{}, Options{Loops: 1})
	l := e.Loops()[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := false
	err := l.DoWait(ctx, func() {
		cancel()
		time.Sleep(20 * time.Millisecond) // the caller sees ctx end meanwhile
		ran = true
	})
	require.NoError(t, err, "fn ran: DoWait returns its answer, not ctx's error")
	assert.True(t, ran)
}

// TestDoWaitAbandonedNotReused: the waiter of a call whose ctx ended stays
// the loop's, which has not looked at it yet: a later call must not get it
// back from the pool and be answered in the abandoned call's place, ahead
// of what was queued before it.
func TestDoWaitAbandonedNotReused(t *testing.T) {
	e, _ := start(t, Funcs{}, Options{Loops: 1})
	l := e.Loops()[0]
	for range 8 { // sync.Pool drops some of what is put back under -race
		release := busy(t, l, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		assert.ErrorIs(t, l.DoWait(ctx, func() { t.Error("an abandoned function ran") }), context.DeadlineExceeded)
		cancel()
		marked := false
		require.NoError(t, l.Do(func() { marked = true }))
		go func() { // not waitFor: its Fatal is for the test's goroutine
			defer release()
			for deadline := time.Now().Add(5 * time.Second); l.tasks.queued.Load() < 3; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Error("the calls did not queue")
					return
				}
			}
		}()
		sawMark := false
		require.NoError(t, l.DoWait(context.Background(), func() { sawMark = marked }))
		require.True(t, sawMark, "the call ran in the abandoned one's place, ahead of the task queued before it")
	}
}

// TestDoWaitWoke: the loop is told it woke the caller (Woke), so that the
// caller runs before the loop next waits.
func TestDoWaitWoke(t *testing.T) {
	e, c, _ := opened(t, Options{Loops: 1})
	l := e.Loops()[0]
	for _, call := range []func() error{
		func() error { return l.DoWait(context.Background(), func() {}) },
		func() error { return c.DoWait(context.Background(), func(*Conn) {}) },
	} {
		release := busy(t, l, nil)
		got := make(chan error, 1)
		go func() { got <- call() }()
		waitFor(t, "the call queued", func() bool { return l.tasks.queued.Load() == 1 })
		woke := make(chan bool, 1)
		require.NoError(t, l.Do(func() { woke <- l.woke.Load() })) // right behind it
		release()
		require.NoError(t, within(t, got, 5*time.Second, "DoWait did not return"))
		assert.True(t, within(t, woke, 5*time.Second, "the task did not run"), "the loop was not told (Woke)")
	}
}
