package loop

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseDrainsPeerStillSending: a server that answers and closes while
// the client is still sending (requests it will not serve) delivers the
// whole answer and a clean end of stream. A close with input unread made
// the kernel reset the connection, and the reset threw away the part of
// the answer the client had not yet read.
func TestCloseDrainsPeerStillSending(t *testing.T) {
	answer := bytes.Repeat([]byte("answer. "), 1<<19) // 4 MiB, more than the socket buffers hold
	closed := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			c.Write(answer)
			c.Close() // the rest of the input is left unread
		},
		Close: func(c *Conn, err error) { closed <- err },
	}
	_, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// A request, and more behind it than one read takes, which the server
	// leaves in the kernel.
	go c.Write(bytes.Repeat([]byte("request "), 64<<10))
	time.Sleep(50 * time.Millisecond) // the server has closed, its answer queued
	got, err := io.ReadAll(c)
	require.NoError(t, err, "after %d of %d bytes", len(got), len(answer))
	assert.Equal(t, len(answer), len(got))
	assert.True(t, bytes.Equal(answer, got))
	c.Close() // the drain ends at this end of stream
	select {
	case err := <-closed:
		assert.NoError(t, err, "a graceful close")
	case <-time.After(drainTimeout / 2):
		t.Fatal("the drain did not end at the peer's end of stream")
	}
}

// TestDrainBounded: a peer that keeps sending and never ends its side
// holds a drained connection for drainTimeout at most. The peer reads the
// answer only after a while, so its bytes wait unread in the server's
// kernel when the answer has gone.
func TestDrainBounded(t *testing.T) {
	answer := make([]byte, 4<<20)
	closed := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			c.Write(answer)
			c.Close()
		},
		Close: func(c *Conn, err error) { closed <- err },
	}
	_, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // sends for ever, a kilobyte a millisecond
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.Write(make([]byte, 1024)); err != nil && !isTimeout(err) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	go io.Copy(io.Discard, c) // now the answer goes
	begin := time.Now()
	select {
	case err := <-closed:
		assert.NoError(t, err)
		assert.GreaterOrEqual(t, time.Since(begin), drainTimeout/2, "not drained")
	case <-time.After(2*drainTimeout + 5*time.Second):
		t.Fatal("a peer that never ends its side held the connection past the drain's bound")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestRemoteAddrAfterReset: a peer address asked for in OnOpen is known in
// OnClose after the peer reset the connection, when the kernel no longer
// knows it.
func TestRemoteAddrAfterReset(t *testing.T) {
	atClose := make(chan net.Addr, 1)
	h := Funcs{
		Open:  func(c *Conn) { c.RemoteAddr() },
		Close: func(c *Conn, err error) { atClose <- c.RemoteAddr() },
	}
	_, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr)
	local := c.LocalAddr().String()
	time.Sleep(20 * time.Millisecond) // opened
	c.(*net.TCPConn).SetLinger(0)
	c.Close() // a reset
	select {
	case a := <-atClose:
		require.NotNil(t, a)
		assert.Equal(t, local, a.String())
	case <-time.After(10 * time.Second):
		t.Fatal("no close")
	}
}
