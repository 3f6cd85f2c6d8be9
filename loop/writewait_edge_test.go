package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// TestWriteWaitTLSHandshake: on a Dial'd TLS connection whose handshake
// is not done, what is written waits in plaintext for it, and counts as
// pending output: WriteWait waits once it passes HighWater, rather than
// letting the producer run until MaxOutput closes the connection; once
// the handshake is done and the output drains, the waiting caller goes
// on, and every byte arrives.
func TestWriteWaitTLSHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	release := make(chan struct{})
	received := make(chan int64, 1)
	go func() { // a server that answers the ClientHello once released
		c, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		defer c.Close()
		<-release
		c.SetDeadline(time.Now().Add(20 * time.Second))
		n, _ := io.Copy(io.Discard, tls.Server(c, getPKI(t).serverConfig()))
		received <- n
	}()
	const high, chunk = 64 << 10, 16 << 10
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog, HighWater: high, MaxOutput: 1 << 20,
		TLSHandshakeTimeout: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { stop(t, e) })
	c, err := e.Dial(context.Background(), "tcp", ln.Addr().String(), WithTLS(getPKI(t).clientConfig()))
	require.NoError(t, err)
	p := make([]byte, chunk)
	written := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := c.WriteWait(ctx, p)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		require.NoError(t, err, "after %d bytes", written)
		written += chunk
		require.LessOrEqual(t, written, 2<<20, "WriteWait never waited")
	}
	require.LessOrEqual(t, written, high+chunk)
	buffered := make(chan int, 1)
	require.NoError(t, c.Do(func(c *Conn) { buffered <- c.Buffered() }))
	require.GreaterOrEqual(t, <-buffered, written, "Buffered counts what waits for the handshake")

	waited := make(chan error, 1)
	go func() { waited <- c.WriteWait(context.Background(), p) }()
	time.Sleep(50 * time.Millisecond) // it waits
	close(release)
	err = within(t, waited, 10*time.Second, "WriteWait still waits after the handshake")
	require.NoError(t, err)
	require.NoError(t, c.AsyncClose(nil))
	require.Equal(t, int64(written+chunk), <-received)
}

// TestWriteWaitAbandoned: callers that give up (ctx) on a connection
// whose peer never reads are not kept listed, each with its bytes, until
// the connection drains or closes.
func TestWriteWaitAbandoned(t *testing.T) {
	conns := make(chan *Conn, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { conns <- c }}, Options{HighWater: 64 << 10})
	cc, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	c := <-conns
	p := make([]byte, 16<<10)
	gaveUp := 0
	for gaveUp < 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		err := c.WriteWait(ctx, p)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			gaveUp++
			continue
		}
		require.NoError(t, err)
	}
	listed := make(chan int, 1)
	require.NoError(t, c.Do(func(c *Conn) {
		n := 0
		if c.aux != nil && c.aux.waiters != nil {
			n = len(c.aux.waiters.list)
		}
		listed <- n
	}))
	require.Less(t, <-listed, 100, "callers that gave up are still listed")
}

// TestWriteWaitOtherLoop: WriteWait on a loop goroutine returns ErrOnLoop
// whichever loop owns the connection: on another loop it would block
// that loop (and two loops writing to each other's connections would
// wait for each other for ever).
func TestWriteWaitOtherLoop(t *testing.T) {
	_, addr := start(t, echo, Options{})
	e, err := New(Funcs{}, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	t.Cleanup(func() { stop(t, e) })
	c, err := e.Dial(context.Background(), "tcp", addr, WithLoop(e.Loops()[0]))
	require.NoError(t, err)
	got := make(chan error, 1)
	require.NoError(t, e.Loops()[1].Do(func() { got <- c.WriteWait(context.Background(), []byte("x")) }))
	require.ErrorIs(t, <-got, ErrOnLoop)
}
