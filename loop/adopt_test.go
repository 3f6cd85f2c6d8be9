//go:build unix

package loop

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// newEngine runs an echo engine that listens on nothing and is stopped when
// the test ends.
func newEngine(t *testing.T, h Handler) *Engine {
	t.Helper()
	e, err := New(h, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	t.Cleanup(func() { stop(t, e) })
	return e
}

// TestServeListener: a listener from the standard library, TCP and Unix,
// is served by the engine once handed over, and the caller's copy is
// closed without removing the Unix socket's file.
func TestServeListener(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			address := "127.0.0.1:0"
			if network == "unix" {
				address = filepath.Join(t.TempDir(), "s")
			}
			ln, err := net.Listen(network, address)
			require.NoError(t, err)
			defer ln.Close()
			e := newEngine(t, echo)
			addr, err := e.ServeListener(ln)
			require.NoError(t, err)
			require.Equal(t, ln.Addr().String(), addr.String())
			require.Equal(t, []net.Addr{addr}, e.Addrs())
			_, err = ln.Accept()
			require.ErrorIs(t, err, net.ErrClosed, "the caller's listener is closed")
			if network == "unix" {
				_, err := os.Stat(address)
				require.NoError(t, err, "the socket file stays")
			}
			for range 3 {
				c, err := net.DialTimeout(network, addr.String(), 5*time.Second)
				require.NoError(t, err)
				require.Equal(t, []byte("served"), roundTrip(t, c, []byte("served")))
				c.Close()
			}
		})
	}
}

// TestServeFile: an *os.File of a listening socket (as a parent process
// passes one) is served, and closed by ServeFile.
func TestServeFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	ln.Close() // the file's copy keeps the socket
	e := newEngine(t, echo)
	addr, err := e.ServeFile(f)
	require.NoError(t, err)
	require.ErrorIs(t, f.Close(), os.ErrClosed, "ServeFile closes f")
	c := dial(t, addr.String())
	require.Equal(t, []byte("file"), roundTrip(t, c, []byte("file")))
}

// TestServeFD: a raw descriptor made with system calls is served, and owned
// by the engine afterwards.
func TestServeFD(t *testing.T) {
	fd := rawListener(t)
	e := newEngine(t, echo)
	addr, err := e.ServeFD(uintptr(fd))
	require.NoError(t, err)
	require.Contains(t, addr.String(), "127.0.0.1:")
	c := dial(t, addr.String())
	require.Equal(t, []byte("raw"), roundTrip(t, c, []byte("raw")))
}

// rawListener returns a blocking listening TCP descriptor on the loopback.
func rawListener(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(fd, 16))
	return fd
}

// TestServeRefused: what is no listening stream socket is refused, and the
// descriptor stays the caller's, open.
func TestServeRefused(t *testing.T) {
	e := newEngine(t, echo)
	stillOpen := func(fd int) {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		require.NoError(t, err, "descriptor %d was closed", fd)
		unix.Close(fd)
	}

	udp, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	_, err = e.ServeFD(uintptr(udp))
	require.ErrorIs(t, err, evsel.ErrNotStream)
	require.ErrorContains(t, err, "packet")
	stillOpen(udp)

	var p [2]int
	require.NoError(t, unix.Pipe(p[:]))
	_, err = e.ServeFD(uintptr(p[0]))
	require.ErrorIs(t, err, evsel.ErrNotStream)
	stillOpen(p[0])
	unix.Close(p[1])

	unbound, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	_, err = e.ServeFD(uintptr(unbound))
	require.ErrorIs(t, err, ErrNotListening)
	stillOpen(unbound)

	_, err = e.ServeListener(noFD{})
	require.ErrorContains(t, err, "no descriptor")

	_, err = e.Adopt(&net.TCPConn{})
	require.Error(t, err, "a net.Conn with no socket")
	_, err = e.Adopt(fakeConn{tcpListener(t)})
	require.ErrorContains(t, err, "use ServeListener")

	stop(t, e)
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln2.Close()
	_, err = e.ServeListener(ln2)
	require.ErrorIs(t, err, ErrStopped)
}

// noFD is a listener without a descriptor.
type noFD struct{ net.Listener }

// fakeConn passes a listener's descriptor off as a connection's.
type fakeConn struct{ *net.TCPListener }

func (fakeConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (fakeConn) Write([]byte) (int, error)        { return 0, io.EOF }
func (fakeConn) LocalAddr() net.Addr              { return nil }
func (fakeConn) RemoteAddr() net.Addr             { return nil }
func (fakeConn) SetDeadline(time.Time) error      { return nil }
func (fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeConn) SetWriteDeadline(time.Time) error { return nil }

func tcpListener(t *testing.T) *net.TCPListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// TestAdopt: a connection that has already exchanged bytes through the net
// package is taken over; OnOpen sees WithData, and the bytes the peer sent
// that the net.Conn did not read are served by the engine with the rest.
func TestAdopt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client := dial(t, ln.Addr().String())
	server, err := ln.Accept()
	require.NoError(t, err)
	defer server.Close()

	// A conversation through the net package first.
	require.NoError(t, server.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = client.Write([]byte("hello\n"))
	require.NoError(t, err)
	line, err := bufio.NewReaderSize(io.LimitReader(server, 6), 16).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "hello\n", line)
	_, err = server.Write([]byte("welcome\n"))
	require.NoError(t, err)
	got := make([]byte, 8)
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	// Sent before the adoption and never read by server.
	_, err = client.Write([]byte("early "))
	require.NoError(t, err)

	opened := make(chan any, 1)
	closed := make(chan error, 1)
	e := newEngine(t, Funcs{
		Open:  func(c *Conn) { opened <- c.Data() },
		Data:  echo.Data,
		Close: func(c *Conn, err error) { closed <- err },
	})
	c, err := e.Adopt(server, WithData("state"))
	require.NoError(t, err)
	require.NotNil(t, c)
	require.Equal(t, "state", <-opened)
	_, err = server.Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed, "Adopt closes the caller's copy")

	require.NoError(t, client.SetDeadline(time.Now().Add(10*time.Second)))
	client.Write([]byte("late"))
	echoed := make([]byte, len("early late"))
	_, err = io.ReadFull(client, echoed)
	require.NoError(t, err)
	require.Equal(t, "early late", string(echoed))
	require.EqualValues(t, 1, e.Stats().Accepted)

	client.Close()
	select {
	case err := <-closed:
		require.True(t, err == nil || errors.Is(err, io.EOF), "close reason %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose")
	}
}

// TestInheritedListeners: the variables naming inherited sockets are read
// once and unset; systemd's are taken only when LISTEN_PID is this process.
func TestInheritedListeners(t *testing.T) {
	fd := rawListener(t)
	t.Setenv(HandoffEnv, strconv.Itoa(fd))
	e := newEngine(t, echo)
	addrs, err := e.ServeInherited(nil)
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	_, ok := os.LookupEnv(HandoffEnv)
	require.False(t, ok, "the variable is unset once read")
	c := dial(t, addrs[0].String())
	require.Equal(t, []byte("inherited"), roundTrip(t, c, []byte("inherited")))

	_, err = e.ServeInherited(nil)
	require.ErrorIs(t, err, ErrNoInherited)

	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	t.Setenv("LISTEN_FDS", "1")
	files, err := InheritedListeners()
	require.NoError(t, err)
	require.Empty(t, files, "meant for another process")
	_, ok = os.LookupEnv("LISTEN_FDS")
	require.False(t, ok)

	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("LISTEN_FDS", "x")
	_, err = InheritedListeners()
	require.ErrorContains(t, err, "malformed LISTEN_FDS")
	t.Setenv(HandoffEnv, "3,a")
	_, err = InheritedListeners()
	require.ErrorContains(t, err, "malformed "+HandoffEnv)
}
