package loop

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// Tests of what only the completion driver does; the rest of the suite
// runs on it as a whole (see TestMain).

func needUring(t *testing.T) {
	t.Helper()
	if err := evsel.UringAvailable(uringRequired...); err != nil {
		t.Skip(err)
	}
}

// uringState reads the driver's record of descriptor fd on the loop.
func uringState(t *testing.T, l *Loop, fd int) uringFd {
	t.Helper()
	res := make(chan uringFd, 1)
	require.NoError(t, l.Do(func() { res <- *l.drv.(*uringDriver).fd(fd) }))
	return <-res
}

// TestUringAbortWithSendInFlight: a connection aborted while its send is
// stuck in the kernel (the peer reads nothing) keeps its descriptor until
// the cancelled send has completed, then closes it: the peer sees the
// connection end, and the driver has nothing left on the descriptor.
func TestUringAbortWithSendInFlight(t *testing.T) {
	needUring(t)
	conns := make(chan *Conn, 1)
	closed := make(chan error, 1)
	h := Funcs{
		Open:  func(c *Conn) { c.Write(make([]byte, 8<<20)); conns <- c },
		Close: func(c *Conn, err error) { closed <- err },
	}
	e, addr := start(t, h, Options{Loops: 1, Driver: DriverIOUring})
	require.Equal(t, DriverIOUring, e.Driver())
	peer := dial(t, addr)
	c := <-conns
	l := e.Loops()[0]
	fd := -1
	waitFor(t, "a send in flight", func() bool {
		res := make(chan bool, 1)
		require.NoError(t, l.Do(func() {
			fd = c.fd()
			res <- c.flags&flagSending != 0
		}))
		return <-res
	})
	require.NoError(t, c.Do(func(c *Conn) { c.Abort(nil) }))
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose after Abort")
	}
	waitFor(t, "the cancelled send to end and the descriptor to close", func() bool {
		st := uringState(t, l, fd)
		return st.ops == 0 && !st.closing
	})
	// The peer drains what reached its side, then sees the end.
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.Copy(io.Discard, peer)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server's socket was never closed: %v", err)
}

// TestUringOutputBehindSendInFlight: the writes a handler makes while a
// sendmsg of the output queue is in flight go behind it without
// disturbing the bytes the kernel is reading: numbered frames written in
// pieces, several chunks each, arrive whole and in order.
func TestUringOutputBehindSendInFlight(t *testing.T) {
	needUring(t)
	const frames, size = 300, 40 << 10 // 40 KiB: three output chunks each, so sendmsg
	h := Funcs{Data: func(c *Conn) {
		for len(c.Inbound()) > 0 {
			n := int(c.Inbound()[0])
			c.Consume(1)
			frame := make([]byte, size)
			for i := range frame {
				frame[i] = byte(n + i)
			}
			for off := 0; off < size; off += 1000 {
				c.Write(frame[off:min(off+1000, size)])
			}
		}
	}}
	_, addr := start(t, h, Options{Loops: 1, Driver: DriverIOUring})
	peer := dial(t, addr)
	require.NoError(t, peer.SetDeadline(time.Now().Add(20*time.Second)))
	go func() {
		for n := range frames {
			peer.Write([]byte{byte(n)})
		}
	}()
	got := make([]byte, size)
	for n := range frames {
		_, err := io.ReadFull(peer, got)
		require.NoError(t, err)
		for i, b := range got {
			if b != byte(n+i) {
				t.Fatalf("frame %d byte %d: got %d, want %d", n, i, b, byte(n+i))
			}
		}
	}
}
