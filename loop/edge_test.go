package loop

import (
	"testing"
	"time"

	"github.com/evsel/evsel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAsyncWriteEmpty: an empty write is a no-op, not a handler panic.
func TestAsyncWriteEmpty(t *testing.T) {
	conns := make(chan *Conn, 1)
	reasons := make(chan error, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { conns <- c }, Close: func(c *Conn, err error) { reasons <- err }}, Options{Loops: 1})
	client := dial(t, addr)
	c := <-conns
	assert.NoError(t, c.AsyncWrite(nil))
	assert.NoError(t, c.AsyncWritev([][]byte{{}, nil}))
	assert.NoError(t, c.AsyncWrite([]byte("after")))
	client.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 5)
	_, err := client.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "after", string(buf))
	select {
	case err := <-reasons:
		t.Fatalf("connection closed: %v", err)
	default:
	}
}

// TestIdleTimeoutClosesStuckClose: a connection closed gracefully whose
// peer never takes the last output is still swept by the idle timeout.
func TestIdleTimeoutClosesStuckClose(t *testing.T) {
	reasons := make(chan error, 1)
	h := Funcs{
		Open: func(c *Conn) {
			c.Write(make([]byte, 32<<20)) // far more than the socket buffers hold
			c.Close()
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}
	// Small socket buffers: the 32 MiB outlast them whatever the
	// system's defaults.
	_, addr := start(t, h, Options{Loops: 1, IdleTimeout: 100 * time.Millisecond, SocketWriteBuffer: smallSendBuffer})
	dialSmall(t, addr) // never reads
	select {
	case err := <-reasons:
		assert.ErrorIs(t, err, ErrIdleTimeout)
	case <-time.After(5 * time.Second):
		t.Fatal("a close stuck on unsent output was never swept")
	}
}

// TestPollKeepsWakeOfQueuedTask: after a busy iteration the readiness
// driver's poll first looks
// without blocking, and that look can consume the wake-up of a task queued
// meanwhile. poll must then return rather than block with the task stranded
// (and every later one: their enqueue sees a non-empty queue and does not
// wake). The situation is set up exactly: queue a task, wake, poll.
func TestPollKeepsWakeOfQueuedTask(t *testing.T) {
	p, err := evsel.NewPoller()
	require.NoError(t, err)
	defer p.Close()
	l := &Loop{}
	d := newPollDriver(l, p)
	l.drv = d
	require.NoError(t, l.enqueue(task{fn: func() {}})) // queues and wakes
	returned := make(chan struct{})
	go func() {
		d.poll(-1, true)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(2 * time.Second):
		p.Wake() // let the goroutine end before failing
		<-returned
		t.Fatal("poll blocked with a task queued: its wake-up was lost")
	}
}

// TestIdleSweepStopsWhenEmpty: the idle sweep ticks only while the loop has
// connections, and starts again with the next one.
func TestIdleSweepStopsWhenEmpty(t *testing.T) {
	reasons := make(chan error, 2)
	e, addr := start(t, Funcs{Close: func(c *Conn, err error) { reasons <- err }}, Options{Loops: 1, IdleTimeout: 50 * time.Millisecond})
	l := e.Loops()[0]
	timers := func() int {
		n := make(chan int, 1)
		require.NoError(t, l.Do(func() { n <- len(l.timers) }))
		return <-n
	}
	for round := 0; round < 2; round++ {
		c := dial(t, addr)
		assert.ErrorIs(t, <-reasons, ErrIdleTimeout, "round %d", round)
		c.Close()
		waitFor(t, "the sweep to stop", func() bool { return timers() == 0 })
	}
}
