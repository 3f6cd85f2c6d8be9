package loop

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInputReaders: Peek, Discard, Read and WriteTo over what is buffered,
// with bufio.Reader's rules where they apply.
func TestInputReaders(t *testing.T) {
	c := &Conn{in: []byte("hello, world")}
	p, err := c.Peek(5)
	assert.NoError(t, err)
	assert.Equal(t, "hello", string(p))
	assert.Equal(t, 5, cap(p), "appending to a peeked slice cannot clobber the input")
	p, err = c.Peek(20)
	assert.ErrorIs(t, err, ErrShortInput)
	assert.Equal(t, "hello, world", string(p))
	_, err = c.Peek(-1)
	assert.ErrorIs(t, err, bufio.ErrNegativeCount)

	n, err := c.Discard(2)
	assert.NoError(t, err)
	assert.Equal(t, 2, n)
	buf := make([]byte, 4)
	n, err = c.Read(buf)
	assert.NoError(t, err)
	assert.Equal(t, "llo,", string(buf[:n]))

	var w bytes.Buffer
	m, err := c.WriteTo(&w)
	assert.NoError(t, err)
	assert.EqualValues(t, len(" world"), m)
	assert.Equal(t, " world", w.String())
	assert.Empty(t, c.Inbound())
	n, err = c.Read(buf)
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF, "nothing more in this callback")
	m, err = c.WriteTo(&w)
	assert.Zero(t, m)
	assert.NoError(t, err)

	c.in = []byte("abc")
	n, err = c.Discard(5)
	assert.Equal(t, 3, n)
	assert.ErrorIs(t, err, ErrShortInput)
	_, err = c.Discard(-1)
	assert.ErrorIs(t, err, bufio.ErrNegativeCount)
}

// TestNext: Next takes n bytes whole or nothing, gnet's codec idiom, and
// a server framing with it sees every frame however the bytes are split.
func TestNext(t *testing.T) {
	c := &Conn{in: []byte("hello, world")}
	p, err := c.Next(5)
	assert.NoError(t, err)
	assert.Equal(t, "hello", string(p))
	assert.Equal(t, 5, cap(p), "appending to the taken slice cannot clobber the input")
	assert.Equal(t, ", world", string(c.Inbound()))
	p, err = c.Next(20)
	assert.ErrorIs(t, err, ErrShortInput)
	assert.Equal(t, ", world", string(p))
	assert.Equal(t, ", world", string(c.Inbound()), "a short Next consumes nothing")
	_, err = c.Next(-1)
	assert.ErrorIs(t, err, bufio.ErrNegativeCount)
	p, err = c.Next(0)
	assert.NoError(t, err)
	assert.Empty(t, p)

	// One length byte, then the frame; the answer is the frame upper-cased.
	// seen tells the client how many bytes the server has taken in (the
	// latest count only), so that it writes its next piece once the last
	// one has been read: each piece is a read of its own, however slowly
	// the machine runs the client's goroutine.
	seen := make(chan int, 1)
	var headerOnly, partFrame atomic.Int64 // reads that ended inside a frame
	consumed := 0
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		for {
			h, err := c.Peek(1)
			if err != nil {
				break
			}
			if _, err := c.Peek(1 + int(h[0])); err != nil {
				break
			}
			c.Next(1)
			frame, _ := c.Next(int(h[0]))
			c.Write(bytes.ToUpper(frame))
			consumed += 1 + len(frame)
		}
		switch len(c.Inbound()) {
		case 0:
		case 1:
			headerOnly.Add(1)
		default:
			partFrame.Add(1)
		}
		select {
		case <-seen: // stale
		default:
		}
		seen <- consumed + len(c.Inbound())
	}}, Options{Loops: 1})
	client := dial(t, addr)
	var msg, want []byte
	for i := 1; i < 200; i++ {
		f := bytes.Repeat([]byte{'a' + byte(i%26)}, i)
		msg = append(append(msg, byte(i)), f...)
		want = append(want, bytes.ToUpper(f)...)
	}
	// Pieces of 97 bytes, a prime: frames of up to 199 bytes split across
	// two or three reads, and some reads end just after a length byte.
	// (Pieces of 7 bytes paced by 50 µs sleeps took longer than the
	// client's 10 s with GOMAXPROCS=1: the loop, waiting raw after a busy
	// iteration, holds the only P for up to 5 ms, and each sleep's wake-up
	// waited for it.)
	const piece = 97
	go func() {
		for i := 0; i < len(msg); i += piece {
			end := min(i+piece, len(msg))
			if _, err := client.Write(msg[i:end]); err != nil {
				return
			}
			for n := 0; n < end; {
				select {
				case n = <-seen:
				case <-time.After(10 * time.Second):
					return // the read below fails
				}
			}
		}
	}()
	require.NoError(t, client.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, len(want))
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Positive(t, headerOnly.Load(), "no read ended just after a length byte")
	assert.Positive(t, partFrame.Load(), "no read ended inside a frame")
}

// TestWriteToEchoes: c.WriteTo(c) is an echo handler, and io.Copy uses it.
func TestWriteToEchoes(t *testing.T) {
	_, addr := start(t, Funcs{Data: func(c *Conn) { io.Copy(c, c) }}, Options{Loops: 1})
	c := dial(t, addr)
	msg := bytes.Repeat([]byte("copy"), 100000)
	assert.Equal(t, msg, roundTrip(t, c, msg))
}

// TestAddrPort: the netip forms agree with LocalAddr and RemoteAddr and
// allocate nothing.
func TestAddrPort(t *testing.T) {
	type result struct {
		local, remote         netip.AddrPort
		localAddr, remoteAddr net.Addr
		allocs                float64
	}
	results := make(chan result, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) {
		r := result{local: c.LocalAddrPort(), remote: c.RemoteAddrPort(), localAddr: c.LocalAddr(), remoteAddr: c.RemoteAddr()}
		if !raceEnabled {
			r.allocs = testing.AllocsPerRun(100, func() {
				c.LocalAddrPort()
				c.RemoteAddrPort()
			})
		}
		results <- r
	}}, Options{Loops: 1})
	client := dial(t, addr)
	r := <-results
	unmapped := func(a net.Addr) netip.AddrPort {
		ap := a.(*net.TCPAddr).AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	assert.Equal(t, unmapped(r.localAddr), r.local)
	assert.Equal(t, unmapped(r.remoteAddr), r.remote)
	assert.Equal(t, unmapped(client.LocalAddr()), r.remote)
	assert.Zero(t, r.allocs)
}

// TestSocketOptions: the setters work on a live connection, SyscallConn
// gives the descriptor but not its I/O, and all of them say ErrClosed once
// the connection is gone.
func TestSocketOptions(t *testing.T) {
	conns := make(chan *Conn, 1)
	e, addr := start(t, Funcs{Open: func(c *Conn) {
		assert.NoError(t, c.SetNoDelay(true))
		assert.NoError(t, c.SetKeepAlive(net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}))
		assert.NoError(t, c.SetReadBuffer(64<<10))
		assert.NoError(t, c.SetWriteBuffer(64<<10))
		rc, err := c.SyscallConn()
		if assert.NoError(t, err) {
			var fd uintptr
			assert.NoError(t, rc.Control(func(d uintptr) { fd = d }))
			assert.Equal(t, uintptr(c.fd()), fd)
			assert.ErrorIs(t, rc.Read(func(uintptr) bool { return true }), errors.ErrUnsupported)
			assert.ErrorIs(t, rc.Write(func(uintptr) bool { return true }), errors.ErrUnsupported)
		}
		c.Close()
		conns <- c
	}}, Options{Loops: 1})
	dial(t, addr)
	c := <-conns
	waitFor(t, "the close", func() bool { return c.closed.Load() })
	done := make(chan struct{})
	require.NoError(t, e.Loops()[0].Do(func() {
		defer close(done)
		assert.ErrorIs(t, c.SetNoDelay(true), ErrClosed)
		_, err := c.SyscallConn()
		assert.ErrorIs(t, err, ErrClosed)
		assert.Nil(t, c.LocalAddr())
		assert.Equal(t, netip.AddrPort{}, c.RemoteAddrPort())
	}))
	<-done
}

// TestCloseFamily: Close and CloseWithError send what is pending first,
// Abort drops it; each gives OnClose its reason, and every close method
// says ErrClosed once the connection is gone.
func TestCloseFamily(t *testing.T) {
	errBye := errors.New("bye")
	big := make([]byte, 32<<20) // far more than the socket buffers hold (set small below)
	for _, tc := range []struct {
		name   string
		close  func(c *Conn) error
		reason error
		all    bool // the peer gets all the output
	}{
		{"Close", func(c *Conn) error { return c.Close() }, nil, true},
		{"CloseWithError", func(c *Conn) error { return c.CloseWithError(errBye) }, errBye, true},
		{"Abort", func(c *Conn) error { return c.Abort(errBye) }, errBye, false},
		{"AsyncClose", func(c *Conn) error { return c.AsyncClose(errBye) }, errBye, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reasons := make(chan error, 1)
			closedErrs := make(chan []error, 1)
			_, addr := start(t, Funcs{
				Open: func(c *Conn) {
					c.Write(big)
					assert.NoError(t, tc.close(c))
				},
				Close: func(c *Conn, err error) {
					reasons <- err
					closedErrs <- []error{c.Close(), c.CloseWithError(errBye), c.Abort(nil), c.AsyncClose(nil)}
				},
			}, Options{Loops: 1, SocketWriteBuffer: smallSendBuffer})
			client := dialSmall(t, addr)
			require.NoError(t, client.SetDeadline(time.Now().Add(20*time.Second)))
			var reason error
			if !tc.all {
				// Read only once the output was dropped: on loopback a
				// reader that keeps pace can let one write take all 32 MiB.
				reason = <-reasons
			}
			got, _ := io.Copy(io.Discard, client) // ends at the close (or a reset, for Abort)
			if tc.all {
				assert.EqualValues(t, len(big), got)
				reason = <-reasons
			} else {
				assert.Less(t, got, int64(len(big)))
			}
			assert.Equal(t, tc.reason, reason)
			for _, err := range <-closedErrs {
				assert.ErrorIs(t, err, ErrClosed)
			}
		})
	}
}

// TestCloseThenPeerEOF: a connection the handler closed gets nil in
// OnClose though the peer's end of stream follows at once, on every
// driver. The completion driver's receive, in flight when the close began,
// brought the end of stream in and made it io.EOF, where the readiness
// driver, no longer reading, closed with nil.
func TestCloseThenPeerEOF(t *testing.T) {
	const n = 50
	reasons := make(chan error, n)
	_, addr := start(t, Funcs{
		Data: func(c *Conn) {
			c.Write([]byte("bye"))
			c.Close()
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{Loops: 1})
	for i := range n {
		c := dial(t, addr)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err := c.Write([]byte("hello"))
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite()) // right behind the request
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		assert.Equal(t, "bye", string(got))
		assert.NoError(t, <-reasons, "connection %d", i)
	}
}

// TestHooks: OnBoot runs before New returns, OnShutdown before Done is
// closed, and without OnTick a loop keeps no timer at all.
func TestHooks(t *testing.T) {
	var booted, shut bool
	e, err := New(Funcs{}, Options{
		Loops:      2,
		Logger:     quietLog,
		OnBoot:     func(*Engine) { booted = true },
		OnShutdown: func(*Engine) { shut = true },
	})
	require.NoError(t, err)
	assert.True(t, booted)
	for _, l := range e.Loops() {
		n := make(chan int, 1)
		require.NoError(t, l.Do(func() { n <- len(l.timers) }))
		assert.Zero(t, <-n, "a timer on a loop nobody asked one of")
	}
	stop(t, e)
	<-e.Done()
	assert.True(t, shut)
}
