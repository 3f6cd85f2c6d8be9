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
	answer := bytes.Repeat([]byte("answer. "), 1<<19) // 4 MiB, more than the socket buffers hold (set small)
	closed := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			c.Write(answer)
			c.Close() // the rest of the input is left unread
		},
		Close: func(c *Conn, err error) { closed <- err },
	}
	_, addr := start(t, h, Options{Loops: 1, SocketWriteBuffer: smallSendBuffer})
	c := dialSmall(t, addr)
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
	err = within(t, closed, drainTimeout/2, "the drain did not end at the peer's end of stream")
	assert.NoError(t, err, "a graceful close")
}

// TestDrainBounded: a peer that keeps sending and never ends its side
// holds a drained connection for drainTimeout at most.
func TestDrainBounded(t *testing.T) {
	closed := make(chan error, 1)
	_, addr := start(t, answerAndClose(closed), Options{Loops: 1, SocketWriteBuffer: smallSendBuffer})
	drainingPeer(t, addr)
	begin := time.Now()
	err := within(t, closed, 2*drainTimeout+5*time.Second, "a peer that never ends its side held the connection past the drain's bound")
	assert.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(begin), drainTimeout/2, "not drained")
}

// TestShedTakesDrainingFirst: at MaxConns a newcomer ends a drain before
// it sheds an idle client, and the drained connection closes for its own
// reason, not ErrShed.
func TestShedTakesDrainingFirst(t *testing.T) {
	closed := make(chan error, 1)
	e, addr := start(t, answerAndClose(closed), Options{Loops: 1, MaxConns: 2, SocketWriteBuffer: smallSendBuffer})
	idle := dial(t, addr)
	drainingPeer(t, addr)
	l := e.loops[0]
	waitFor(t, "a drain", func() bool {
		n := make(chan int, 1)
		l.Do(func() {
			k := 0
			for c := range l.fds.all() {
				if c.flags&flagDraining != 0 {
					k++
				}
			}
			n <- k
		})
		return <-n == 1
	})
	newcomer := dial(t, addr)
	_, err := newcomer.Write([]byte("?"))
	require.NoError(t, err)
	err = within(t, closed, drainTimeout/2, "the newcomer did not end the drain")
	assert.NoError(t, err, "the drained connection's own reason")
	assert.Zero(t, e.Stats().Shed)
	idle.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = idle.Read(make([]byte, 1))
	assert.True(t, isTimeout(err), "the idle client was shed: %v", err)
}

// answerAndClose answers anything with 4 MiB, more than the socket buffers
// hold (its engine's SocketWriteBuffer is smallSendBuffer, its peer a
// drainingPeer), and closes; closed gets each close's reason.
func answerAndClose(closed chan error) Handler {
	answer := make([]byte, 4<<20)
	return Funcs{
		Data: func(c *Conn) {
			c.Write(answer)
			c.Close()
		},
		Close: func(c *Conn, err error) {
			select {
			case closed <- err:
			default:
			}
		},
	}
}

// drainingPeer connects to an answerAndClose server and sends a kilobyte a
// millisecond until the test ends, reading the answer only after 200 ms:
// its bytes then wait unread in the server's kernel when the answer has
// gone, so the server drains. Its receive buffer is small, so that the
// answer has not gone before it reads, whatever the system's defaults: a
// kernel that took it all at once saw the server close before the second
// kilobyte came, with nothing unread, and no drain.
func drainingPeer(t *testing.T, addr string) {
	c := dialSmall(t, addr)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
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
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestRemoteAddrAfterReset: a peer address asked for in OnOpen is known in
// OnClose after the peer reset the connection, when the kernel no longer
// knows it.
func TestRemoteAddrAfterReset(t *testing.T) {
	atOpen := make(chan net.Addr, 1)
	atClose := make(chan net.Addr, 1)
	h := Funcs{
		Open:  func(c *Conn) { atOpen <- c.RemoteAddr() },
		Close: func(c *Conn, err error) { atClose <- c.RemoteAddr() },
	}
	_, addr := start(t, h, Options{Loops: 1})
	c := dial(t, addr)
	local := c.LocalAddr().String()
	// the reset must come after OnOpen has asked
	a := within(t, atOpen, 10*time.Second, "no open")
	require.NotNil(t, a)
	require.Equal(t, local, a.String())
	c.(*net.TCPConn).SetLinger(0)
	c.Close() // a reset
	a = within(t, atClose, 10*time.Second, "no close")
	require.NotNil(t, a)
	assert.Equal(t, local, a.String())
}
