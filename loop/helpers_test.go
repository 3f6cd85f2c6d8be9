package loop

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// echo is the handler most tests serve: send back whatever arrives.
var echo = Funcs{Data: func(c *Conn) {
	c.Write(c.Inbound())
	c.Consume(len(c.Inbound()))
}}

// quietLog keeps expected fault reports out of the test output.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs an engine listening on an ephemeral loopback port and stops it
// (checking that Stop succeeds) when the test ends.
func start(t *testing.T, h Handler, opts Options) (*Engine, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	e, err := New(h, opts)
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stop(t, e)
		require.NoError(t, err)
	}
	t.Cleanup(func() { stop(t, e) })
	return e, addr.String()
}

// stop stops e within 10 s, and fails the test rather than hang the binary
// if a loop stuck in a callback keeps Stop from returning even then.
func stop(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- e.Stop(ctx) }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the engine did not stop: a loop is stuck")
	}
}

// readOnce accepts one connection on ln and reads it to its end (at most
// 10 s); the bytes come on the channel, nil if the accept failed.
func readOnce(ln net.Listener) <-chan []byte {
	received := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- nil
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c)
		received <- got
	}()
	return received
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// smallSendBuffer is the SocketWriteBuffer of a server whose peer does not
// read (or not yet) and which needs its output to stay in the engine: with
// the peer's receive buffer set small too (dialSmall), what the kernel
// takes is a few hundred KiB at most, whatever the system's defaults
// (tcp_wmem, tcp_rmem) and autotuning would have let it take.
const smallSendBuffer = 64 << 10

// dialSmall is dial through sockettest.SmallBufferDialer, for a peer that does not
// read (or not yet) and must hold little of the server's output.
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads the same number of bytes back.
func roundTrip(t *testing.T, c net.Conn, msg []byte) []byte {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	go c.Write(msg)
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	return got
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pattern is n bytes that show a loss or reordering anywhere: byte i is
// i mod 251, a prime, so no power-of-two chunking lines up with it.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// within returns what ch brings, failing the test with msg if nothing
// comes within d.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, msg string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s (nothing within %v)", msg, d)
		panic("unreachable")
	}
}
