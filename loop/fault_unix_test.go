//go:build unix

package loop

import (
	"context"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// listenFull returns the address of a listener that never accepts and whose
// backlog is already full, so a further connect hangs in SYN_SENT.
func listenFull(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(fd, 0))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	// Fill the backlog (a backlog of 0 still queues one or two).
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

// TestDialTimeout: a connect that hangs (a listener whose tiny backlog is
// full drops further SYNs) ends in OnClose with the error of Dial's
// context: its deadline, or its cancellation.
func TestDialTimeout(t *testing.T) {
	reasons := make(chan error, 1)
	client, err := New(Funcs{Close: func(c *Conn, err error) { reasons <- err }}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, client)
	addr := listenFull(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = client.Dial(ctx, "tcp", addr)
	require.NoError(t, err)
	select {
	case err := <-reasons:
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(5 * time.Second):
		t.Fatal("dial did not time out")
	}

	ctx, cancel = context.WithCancel(context.Background())
	_, err = client.Dial(ctx, "tcp", addr)
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond) // connecting by now
	cancel()
	select {
	case err := <-reasons:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled dial did not end")
	}
}

// TestCloseWhileDialing: closing a connection whose connect hangs ends it at
// once (OnClose with a nil reason, no OnOpen); one with output waits for the
// connect so its output can go out, and is not announced by OnOpen either.
func TestCloseWhileDialing(t *testing.T) {
	events := make(chan string, 4)
	client, err := New(Funcs{
		Open:  func(c *Conn) { events <- "open" },
		Close: func(c *Conn, err error) { events <- fmt.Sprintf("close %v", err) },
	}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, client)

	c, err := client.Dial(context.Background(), "tcp", listenFull(t))
	require.NoError(t, err)
	require.NoError(t, c.AsyncClose(nil))
	select {
	case ev := <-events:
		assert.Equal(t, "close <nil>", ev)
	case <-time.After(5 * time.Second):
		t.Fatal("a dialing connection was not closed")
	}

	server, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer server.Close()
	// Dial and close from a task on the (only) loop: the registration and
	// the close are then queued back to back and both run before the loop
	// polls again, so the connect cannot complete in between.
	l := client.Loops()[0]
	require.NoError(t, l.Do(func() {
		c, err := client.Dial(context.Background(), "tcp", server.Addr().String())
		if assert.NoError(t, err) {
			c.Do(func(c *Conn) {
				c.Write([]byte("sent anyway"))
				c.Close()
			})
		}
	}))
	peer, err := server.Accept()
	require.NoError(t, err)
	defer peer.Close()
	peer.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(peer)
	require.NoError(t, err)
	assert.Equal(t, "sent anyway", string(got))
	assert.Equal(t, "close <nil>", <-events, "no OnOpen for a connection closed while dialing")
}

// TestWriteErrorOnTheSocket: a write the kernel refuses (here EPIPE, the
// socket's sending side shut down under the loop) closes that connection
// with the error and drops what it had queued; on a readiness driver the
// write left from the stage, which is free again afterwards. The loop
// serves the next connection.
func TestWriteErrorOnTheSocket(t *testing.T) {
	reasons := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			if string(c.Inbound()) != "shut" {
				c.Write(c.Inbound()) // echo
				c.Consume(len(c.Inbound()))
				return
			}
			c.Consume(4)
			raw, err := c.SyscallConn()
			if assert.NoError(t, err) {
				assert.NoError(t, raw.Control(func(fd uintptr) {
					assert.NoError(t, unix.Shutdown(int(fd), unix.SHUT_WR))
				}))
			}
			c.Write([]byte("refused"))
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}
	e, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr)
	_, err := c.Write([]byte("shut"))
	require.NoError(t, err)
	select {
	case err := <-reasons:
		assert.ErrorIs(t, err, unix.EPIPE)
	case <-time.After(10 * time.Second):
		t.Fatal("no close after the write failed")
	}

	l := e.Loops()[0]
	staged := make(chan bool, 1)
	require.NoError(t, l.Do(func() { staged <- l.staged != nil }))
	assert.False(t, <-staged, "the stage left held")
	other := dial(t, addr)
	assert.Equal(t, []byte("ok"), roundTrip(t, other, []byte("ok")), "the loop still serves others")
}

// TestEMFILEWithNobodyWaiting: an accept that fails for want of
// descriptors sheds only if a connection is waiting. On Linux the accept
// after the one that took the last descriptor fails with EMFILE though the
// backlog is empty, and shed an idle client for nobody each time the
// table filled.
func TestEMFILEWithNobodyWaiting(t *testing.T) {
	e, addr := start(t, echo, Options{Loops: 1})
	idle := dial(t, addr)
	assert.Equal(t, []byte("hi"), roundTrip(t, idle, []byte("hi")))
	time.Sleep(20 * time.Millisecond)
	l := e.loops[0]
	acceptFailed := func(before func()) chan bool {
		again := make(chan bool, 1)
		require.NoError(t, l.Do(func() {
			before()
			again <- l.listeners[0].acceptFailed(syscall.EMFILE)
		}))
		return again
	}
	assert.False(t, <-acceptFailed(func() {}), "nothing to accept again")
	assert.Zero(t, e.Stats().Shed, "shed for nobody")
	assert.Equal(t, []byte("kept"), roundTrip(t, idle, []byte("kept")))

	// With one waiting, the idle client makes room for it.
	dialed := make(chan net.Conn, 1)
	again := acceptFailed(func() {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		dialed <- c // in the backlog: this loop is busy here
		waitBacklog(t, l.listeners[0])
	})
	<-again // at once on epoll; io_uring accepts once the shed's close lands
	newcomer := <-dialed
	defer newcomer.Close()
	assert.EqualValues(t, 1, e.Stats().Shed)
	assert.Equal(t, []byte("new"), roundTrip(t, newcomer, []byte("new")))
}

// waitBacklog waits until the listener has a connection to accept.
func waitBacklog(t *testing.T, ln *listener) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ln.pending() {
		require.True(t, time.Now().Before(deadline), "no connection in the backlog")
		time.Sleep(time.Millisecond)
	}
}
