package loop

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStopOnLoop calls Stop and Listen from OnData: both would wait for the
// loop that runs them, so they must return ErrOnLoop at once instead of
// hanging. StopAsync from the same place then stops the engine.
func TestStopOnLoop(t *testing.T) {
	type result struct {
		stop, listen error
		took         time.Duration
	}
	results := make(chan result, 1)
	var e *Engine
	ready := make(chan struct{})
	h := Funcs{Data: func(c *Conn) {
		<-ready
		c.Consume(len(c.Inbound()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		t0 := time.Now()
		stopErr := e.Stop(ctx)
		_, listenErr := e.Listen("tcp", "127.0.0.1:0")
		results <- result{stopErr, listenErr, time.Since(t0)}
		e.StopAsync(context.Background())
	}}
	e, err := New(h, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	close(ready)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := dial(t, addr.String())
	defer c.Close()
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)

	select {
	case r := <-results:
		require.ErrorIs(t, r.stop, ErrOnLoop)
		require.ErrorIs(t, r.listen, ErrOnLoop)
		require.Less(t, r.took, 5*time.Second, "the refusals are immediate")
	case <-time.After(10 * time.Second):
		t.Fatal("Stop called from OnData did not return")
	}
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("StopAsync from OnData did not stop the engine")
	}
	// From outside the loops Stop works as ever on the stopped engine.
	require.NoError(t, e.Stop(context.Background()))
}

// TestStopInOnShutdown: OnShutdown runs before Done is closed, so a Stop
// there would wait for itself.
func TestStopInOnShutdown(t *testing.T) {
	got := make(chan error, 1)
	e, err := New(echo, Options{Loops: 1, Logger: quietLog, OnShutdown: func(e *Engine) {
		got <- e.Stop(context.Background())
	}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- e.Stop(context.Background()) }()
	select {
	case err := <-got:
		require.ErrorIs(t, err, ErrOnLoop)
	case <-time.After(10 * time.Second):
		t.Fatal("Stop in OnShutdown did not return")
	}
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
}

// TestOnLoopGoroutine: true in a task, a timer, a callback and OnShutdown,
// on every loop; false on other goroutines, before and after the loops
// have exited.
func TestOnLoopGoroutine(t *testing.T) {
	seen := make(chan bool, 16)
	e, addr := start(t, Funcs{Data: func(c *Conn) {
		c.Consume(len(c.Inbound()))
		seen <- c.Loop().Engine().OnLoopGoroutine()
	}}, Options{Loops: 2, OnShutdown: func(e *Engine) { seen <- e.OnLoopGoroutine() }})
	for _, l := range e.Loops() {
		require.NoError(t, l.Do(func() {
			seen <- e.OnLoopGoroutine()
			l.AfterFunc(0, func() { seen <- e.OnLoopGoroutine() })
		}))
		require.True(t, <-seen, "in a task")
		require.True(t, <-seen, "in a timer")
	}
	_, err := dial(t, addr).Write([]byte("x"))
	require.NoError(t, err)
	require.True(t, <-seen, "in OnData")

	require.False(t, e.OnLoopGoroutine(), "on the test's goroutine")
	other := make(chan bool)
	go func() { other <- e.OnLoopGoroutine() }()
	require.False(t, <-other, "on another goroutine")

	require.NoError(t, e.Stop(context.Background())) // start's cleanup stops it again: a no-op
	require.True(t, <-seen, "in OnShutdown")
	// Many goroutines now, some on the threads the loops had.
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if e.OnLoopGoroutine() {
					wrong.Add(1)
				}
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	require.Zero(t, wrong.Load(), "a goroutine taken for a loop after the loops exited")
}

// TestStopAsyncForces: a connection whose peer never reads keeps its output
// pending, so only the ctx given to StopAsync ends the stop.
func TestStopAsyncForces(t *testing.T) {
	big := make([]byte, 8<<20)
	// Small socket buffers, so that the kernel cannot take the 8 MiB
	// whatever the system's defaults.
	e, addr := start(t, Funcs{Open: func(c *Conn) { c.Write(big) }}, Options{Loops: 1, SocketWriteBuffer: smallSendBuffer})
	dialSmall(t, addr)
	require.Eventually(t, func() bool { return e.Stats().Open == 1 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	e.StopAsync(ctx)
	// The premise: the output is pending, so the stop waits for the ctx.
	select {
	case <-e.Done():
		t.Fatal("stopped before its ctx ended: the kernel took the output")
	case <-ctx.Done():
	}
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("StopAsync's ctx did not force the stop")
	}
}

func TestGoid(t *testing.T) {
	id := goid()
	require.NotZero(t, id)
	require.Equal(t, id, goid())
	other := make(chan uint64)
	go func() { other <- goid() }()
	require.NotEqual(t, id, <-other)
}
