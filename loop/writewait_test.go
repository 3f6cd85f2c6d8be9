package loop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// producer starts, on OnOpen, a goroutine that sends data in chunks
// with WriteWait, then closes; written counts the bytes queued so far,
// and done gets WriteWait's first error (nil at the end).
func producer(data []byte, chunk int, written *atomic.Int64, done chan<- error) Funcs {
	total := len(data)
	return Funcs{Open: func(c *Conn) {
		go func() {
			for off := 0; off < total; off += chunk {
				if err := c.WriteWait(context.Background(), data[off:min(off+chunk, total)]); err != nil {
					done <- err
					return
				}
				written.Add(int64(min(chunk, total-off)))
			}
			done <- c.AsyncClose(nil)
		}()
	}}
}

// TestWriteWaitBackpressure: a goroutine producing 8 MiB for a peer that
// does not read waits once the output is at HighWater, instead of growing
// it; when the peer reads, everything arrives, in order.
func TestWriteWaitBackpressure(t *testing.T) {
	const total, chunk, high = 8 << 20, 32 << 10, 128 << 10
	var written atomic.Int64
	done := make(chan error, 1)
	e, addr := start(t, producer(pattern(total), chunk, &written, done), Options{HighWater: high, SocketWriteBuffer: smallSendBuffer})
	c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	// Without reads, the producer stops at HighWater plus what the
	// kernel's buffers took (a 4 KiB receive window here, and a send
	// buffer of 64 KiB, doubled), far short of the 8 MiB.
	waitFor(t, "the producer to start", func() bool { return written.Load() > 0 })
	time.Sleep(300 * time.Millisecond)
	stalled := written.Load()
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, stalled, written.Load(), "the producer went on while nothing was read")
	require.Less(t, stalled, int64(total/2))
	assert.LessOrEqual(t, e.Stats().MemoryHeld, int64(high+chunk))

	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.True(t, bytes.Equal(pattern(total), got), "got %d bytes", len(got))
	require.NoError(t, <-done)
}

// TestWriteWaitContext: a caller whose context ends while it waits gets
// the context's error, and its bytes are never written; the callers
// before it are written in order.
func TestWriteWaitContext(t *testing.T) {
	conns := make(chan *Conn, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { conns <- c }}, Options{HighWater: 64 << 10, SocketWriteBuffer: smallSendBuffer})
	c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	sc := <-conns
	var sent []byte
	for i := 0; ; i++ { // until a write waits
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 16<<10)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := sc.WriteWait(ctx, p)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		require.NoError(t, err)
		sent = append(sent, p...)
		require.Less(t, len(sent), 16<<20, "WriteWait never waited")
	}
	require.NoError(t, sc.AsyncClose(nil))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.True(t, bytes.Equal(sent, got), "got %d bytes, sent %d", len(got), len(sent))
}

// TestWriteWaitClosed: waiting callers hear ErrClosed as soon as the
// connection closes, and a call after the close gets it at once.
func TestWriteWaitClosed(t *testing.T) {
	var written atomic.Int64
	done := make(chan error, 1)
	e, addr := start(t, producer(pattern(4<<20), 64<<10, &written, done), Options{HighWater: 64 << 10, SocketWriteBuffer: smallSendBuffer})
	c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	waitFor(t, "the producer to start", func() bool { return written.Load() > 0 || len(done) > 0 })
	time.Sleep(100 * time.Millisecond) // it waits
	select {
	case err := <-done:
		t.Fatalf("the producer stopped after %d bytes, before the close: %v", written.Load(), err)
	default:
	}
	require.Equal(t, int64(1), e.Stats().Open)
	c.Close() // the server's next send fails
	err = within(t, done, 10*time.Second, "WriteWait still waits on a closed connection")
	require.ErrorIs(t, err, ErrClosed)
}

// TestWriteWaitOnLoop: on a loop goroutine it would wait for itself.
func TestWriteWaitOnLoop(t *testing.T) {
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		assert.ErrorIs(t, c.WriteWait(context.Background(), []byte("x")), ErrOnLoop)
		echo.OnData(c)
	}}, Options{})
	require.Equal(t, []byte("x"), roundTrip(t, dial(t, addr), []byte("x")))
}

// TestWriteWaitDial: on a Dial'd connection before it is up, the bytes
// are queued (there is room) and go once it connects.
func TestWriteWaitDial(t *testing.T) {
	_, addr := start(t, echo, Options{})
	e := newClientEngine(t)
	got := make(chan string, 8)
	e.h.(*switchHandler).set(Funcs{Data: func(c *Conn) {
		got <- string(c.Inbound())
		c.Consume(len(c.Inbound()))
	}})
	c, err := e.Dial(context.Background(), "tcp", addr)
	require.NoError(t, err)
	require.NoError(t, c.WriteWait(context.Background(), []byte("early")))
	var s string
	for s != "early" {
		s += <-got
	}
}

// TestWriteWaitRefusals: a ctx already done, a connection that ended its
// side (CloseWrite) or closed, each answer at once, and nothing is written.
func TestWriteWaitRefusals(t *testing.T) {
	conns := make(chan *Conn, 1)
	closed := make(chan struct{})
	_, addr := start(t, Funcs{
		Open:  func(c *Conn) { conns <- c },
		Close: func(c *Conn, err error) { close(closed) },
	}, Options{})
	c := dial(t, addr)
	sc := <-conns

	done, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, sc.WriteWait(done, []byte("no")), context.Canceled)

	require.NoError(t, sc.Do(func(c *Conn) { assert.NoError(t, c.CloseWrite()) }))
	require.ErrorIs(t, sc.WriteWait(context.Background(), []byte("no")), ErrClosed)
	require.Empty(t, readAll(t, c), "the end of stream, and nothing before it")

	c.Close()
	<-closed
	require.ErrorIs(t, sc.WriteWait(context.Background(), []byte("no")), ErrClosed)
}

// TestWriteWaitIdleTimeout: a caller without a ctx deadline, waiting on a
// peer that never reads, is answered when the idle timeout closes the
// connection.
func TestWriteWaitIdleTimeout(t *testing.T) {
	var written atomic.Int64
	done := make(chan error, 1)
	_, addr := start(t, producer(pattern(4<<20), 64<<10, &written, done), Options{HighWater: 64 << 10, IdleTimeout: 300 * time.Millisecond, SocketWriteBuffer: smallSendBuffer})
	c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.ErrorIs(t, within(t, done, 10*time.Second, "WriteWait still waits past the idle timeout"), ErrClosed)
	require.Less(t, written.Load(), int64(4<<20))
}
