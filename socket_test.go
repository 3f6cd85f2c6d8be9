package evsel_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// exchange sends a message each way over a connected pair.
func exchange(t *testing.T, a, b *evsel.Socket) {
	t.Helper()
	writeAll(t, a, []byte("ping"))
	assert.Equal(t, "ping", string(readFull(t, b, 4)))
	writeAll(t, b, []byte("pong!"))
	assert.Equal(t, "pong!", string(readFull(t, a, 5)))
}

func TestListenAcceptConnect(t *testing.T) {
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	assert.Equal(t, evsel.IPv4, ln.Family())
	la, err := ln.LocalAddr()
	require.NoError(t, err)
	lnAddr := tcpAddr(t, la)
	assert.True(t, lnAddr.IP.Equal(net.IPv4(127, 0, 0, 1)), "%v", lnAddr)
	assert.NotZero(t, lnAddr.Port, "port 0 picks a free port")

	// Nothing to accept yet: the non-blocking accept says so at once.
	_, _, err = ln.Accept()
	assert.Equal(t, evsel.ErrWouldBlock, err, "ErrWouldBlock comes back unwrapped")
	assert.ErrorIs(t, err, evsel.ErrWouldBlock)

	client, err := evsel.Dial("tcp", lnAddr.String())
	require.NoError(t, err, "Dial returns while the connect is in progress")
	cleanupClose(t, client)

	p, err := evsel.NewPoller()
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Add(int(client.Fd()), evsel.EventWrite))
	require.NoError(t, p.Add(int(ln.Fd()), evsel.EventRead))
	waitFor(t, p, int(client.Fd()), evsel.EventWrite)
	require.NoError(t, client.ConnectResult())
	waitFor(t, p, int(ln.Fd()), evsel.EventRead)
	require.NoError(t, p.Delete(int(client.Fd())))
	require.NoError(t, p.Delete(int(ln.Fd())))

	server, peer, err := ln.Accept()
	require.NoError(t, err)
	cleanupClose(t, server)
	assert.Equal(t, evsel.IPv4, server.Family())

	cl, err := client.LocalAddr()
	require.NoError(t, err)
	cr, err := client.RemoteAddr()
	require.NoError(t, err)
	sl, err := server.LocalAddr()
	require.NoError(t, err)
	sr, err := server.RemoteAddr()
	require.NoError(t, err)
	assert.Equal(t, cl.String(), peer.String(), "Accept returns the client's address")
	assert.Equal(t, cl.String(), sr.String())
	assert.Equal(t, lnAddr.String(), cr.String())
	assert.Equal(t, lnAddr.String(), sl.String())

	// The accepted socket is non-blocking too.
	_, err = server.Read(make([]byte, 8))
	assert.Equal(t, evsel.ErrWouldBlock, err)

	exchange(t, client, server)
}

// freePort finds a loopback port nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a, err := ln.LocalAddr()
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	return a.String()
}

func TestConnectRefused(t *testing.T) {
	s, err := evsel.Dial("tcp", freePort(t))
	if err != nil {
		// Some systems refuse a loopback connect synchronously.
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
		return
	}
	cleanupClose(t, s)
	waitOnce(t, s, evsel.EventWrite)
	assert.ErrorIs(t, s.ConnectResult(), syscall.ECONNREFUSED)
}

// haveIPv6Loopback tells whether [::1] can be listened on here.
func haveIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func TestIPv6(t *testing.T) {
	if !haveIPv6Loopback() {
		t.Skip("this machine has no IPv6 loopback")
	}
	client, server := dialPair(t, "tcp6", "[::1]:0")
	assert.Equal(t, evsel.IPv6, client.Family())
	assert.Equal(t, evsel.IPv6, server.Family())
	for _, s := range []*evsel.Socket{client, server} {
		l, err := s.LocalAddr()
		require.NoError(t, err)
		r, err := s.RemoteAddr()
		require.NoError(t, err)
		assert.True(t, tcpAddr(t, l).IP.Equal(net.IPv6loopback), "%v", l)
		assert.True(t, tcpAddr(t, r).IP.Equal(net.IPv6loopback), "%v", r)
	}
	exchange(t, client, server)
}

func TestUnixSocket(t *testing.T) {
	if s, err := evsel.NewSocket(evsel.Unix); errors.Is(err, syscall.EAFNOSUPPORT) {
		t.Skip("no AF_UNIX stream sockets here (Wine 8 has none)")
	} else if err == nil {
		s.Close()
	}
	path := filepath.Join(t.TempDir(), "s")
	ln, err := evsel.Listen("unix", path)
	require.NoError(t, err)
	cleanupClose(t, ln)
	assert.Equal(t, evsel.Unix, ln.Family())
	la, err := ln.LocalAddr()
	require.NoError(t, err)
	assert.Equal(t, "unix", la.Network())
	assert.Equal(t, path, la.String())

	client, err := evsel.Dial("unix", path)
	require.NoError(t, err)
	cleanupClose(t, client)
	waitOnce(t, client, evsel.EventWrite)
	require.NoError(t, client.ConnectResult())
	waitOnce(t, ln, evsel.EventRead)
	server, _, err := ln.Accept()
	require.NoError(t, err)
	cleanupClose(t, server)
	assert.Equal(t, evsel.Unix, server.Family())

	ra, err := client.RemoteAddr()
	require.NoError(t, err)
	assert.Equal(t, path, ra.String())
	exchange(t, client, server)

	// Nobody listens there: the refusal comes straight from Dial.
	_, err = evsel.Dial("unix", filepath.Join(t.TempDir(), "missing"))
	assert.Error(t, err)
}

func TestHalfClose(t *testing.T) {
	client, server := tcpPair(t)
	writeAll(t, client, []byte("request"))
	require.NoError(t, client.Shutdown(evsel.ShutWrite))

	assert.Equal(t, "request", string(readFull(t, server, 7)))
	waitOnce(t, server, evsel.EventRead)
	_, err := server.Read(make([]byte, 8))
	assert.Equal(t, io.EOF, err, "the peer shut its side down")

	// The other direction still works.
	writeAll(t, server, []byte("response"))
	assert.Equal(t, "response", string(readFull(t, client, 8)))
	require.NoError(t, server.Shutdown(evsel.ShutBoth))
	waitOnce(t, client, evsel.EventRead)
	_, err = client.Read(make([]byte, 8))
	assert.Equal(t, io.EOF, err)
	// A zero-length read is not an end of stream.
	n, err := client.Read(nil)
	assert.Zero(t, n)
	assert.NotEqual(t, io.EOF, err)
}

func TestShutdownRead(t *testing.T) {
	client, _ := tcpPair(t)
	require.NoError(t, client.Shutdown(evsel.ShutRead))
	_, err := client.Read(make([]byte, 8))
	assert.Equal(t, io.EOF, err)
}

// TestFillSendBuffer writes until the kernel says ErrWouldBlock, checks the
// poller agrees the socket is not writable, then drains the peer and checks
// every byte arrives in order; with Write and with TryWrite.
func TestFillSendBuffer(t *testing.T) {
	for name, write := range map[string]func(*evsel.Socket, []byte) (int, error){
		"Write": (*evsel.Socket).Write, "TryWrite": (*evsel.Socket).TryWrite,
	} {
		t.Run(name, func(t *testing.T) {
			client, server := tcpPair(t)
			require.NoError(t, client.SetWriteBuffer(16<<10))
			require.NoError(t, server.SetReadBuffer(16<<10))

			chunk := make([]byte, 64<<10)
			var sent bytes.Buffer
			for i := 0; ; i++ {
				require.Less(t, i, 10000, "the send buffer never filled")
				for j := range chunk {
					chunk[j] = byte(sent.Len() + j)
				}
				n, err := write(client, chunk)
				if err != nil {
					require.Equal(t, evsel.ErrWouldBlock, err, "a full buffer is ErrWouldBlock, unwrapped")
					break
				}
				require.Positive(t, n)
				sent.Write(chunk[:n])
			}
			require.Positive(t, sent.Len())

			p, err := evsel.NewPoller()
			require.NoError(t, err)
			defer p.Close()
			require.NoError(t, p.Add(int(client.Fd()), evsel.EventWrite))
			assert.Zero(t, readyNow(t, p, int(client.Fd())), "writable with a full send buffer")

			got := readFull(t, server, sent.Len())
			require.True(t, bytes.Equal(sent.Bytes(), got), "data corrupted")
			waitFor(t, p, int(client.Fd()), evsel.EventWrite)
			n, err := write(client, []byte("more"))
			require.NoError(t, err)
			assert.Equal(t, 4, n)
		})
	}
}

func TestWritev(t *testing.T) {
	client, server := tcpPair(t)
	n, err := client.Writev([][]byte{[]byte("one "), nil, []byte("two "), []byte("three")})
	require.NoError(t, err)
	assert.Equal(t, 13, n)
	assert.Equal(t, "one two three", string(readFull(t, server, 13)))

	n, err = client.Writev(nil)
	require.NoError(t, err)
	assert.Zero(t, n)

	// More buffers than one gathering write takes (IOV_MAX, 1,024 on
	// Linux): a short count, not EINVAL.
	many := make([][]byte, 1500)
	for i := range many {
		many[i] = []byte{byte(i)}
	}
	n, err = client.Writev(many)
	require.NoError(t, err)
	require.Positive(t, n)
	got := readFull(t, server, n)
	for i, b := range got {
		require.Equal(t, byte(i), b, "byte %d", i)
	}
}

func TestResolve(t *testing.T) {
	one := func(network, address string) *net.TCPAddr {
		t.Helper()
		addrs, err := evsel.Resolve(network, address)
		require.NoError(t, err)
		require.Len(t, addrs, 1)
		return tcpAddr(t, addrs[0])
	}
	a := one("tcp", "127.0.0.1:8080")
	assert.True(t, a.IP.Equal(net.IPv4(127, 0, 0, 1)))
	assert.Equal(t, 8080, a.Port)
	a = one("tcp", "[::1]:80")
	assert.True(t, a.IP.Equal(net.IPv6loopback))
	assert.Nil(t, a.IP.To4())
	a = one("tcp4", "10.1.2.3:1")
	assert.Equal(t, "10.1.2.3:1", a.String())
	a = one("tcp", "[::ffff:127.0.0.1]:9")
	assert.Equal(t, "127.0.0.1:9", a.String(), "a v4-mapped address is IPv4")
	a = one("tcp", ":http")
	assert.Equal(t, 80, a.Port, "service names are looked up")

	// An empty host is the wildcard of the family.
	assert.True(t, one("tcp", ":8080").IP.Equal(net.IPv4zero))
	assert.True(t, one("tcp4", ":8080").IP.Equal(net.IPv4zero))
	wild6 := one("tcp6", ":8080")
	assert.True(t, wild6.IP.Equal(net.IPv6unspecified))
	assert.Nil(t, wild6.IP.To4())

	// Numeric hosts of the wrong family are filtered out.
	_, err := evsel.Resolve("tcp4", "[::1]:80")
	assert.Error(t, err)
	_, err = evsel.Resolve("tcp6", "127.0.0.1:80")
	assert.Error(t, err)

	// Names go to the resolver; IPv4 first for "tcp".
	addrs, err := evsel.Resolve("tcp", "localhost:80")
	require.NoError(t, err)
	require.NotEmpty(t, addrs)
	sawV6 := false
	for _, addr := range addrs {
		ta := tcpAddr(t, addr)
		assert.True(t, ta.IP.IsLoopback(), "%v", ta)
		assert.Equal(t, 80, ta.Port)
		if ta.IP.To4() == nil {
			sawV6 = true
		} else {
			assert.False(t, sawV6, "IPv4 addresses come first: %v", addrs)
		}
	}
	addrs, err = evsel.Resolve("tcp4", "localhost:80")
	require.NoError(t, err)
	for _, addr := range addrs {
		assert.NotNil(t, tcpAddr(t, addr).IP.To4(), "tcp4 returned %v", addr)
	}
	// localhost may have no IPv6 address in the hosts file; if it has,
	// only those come back.
	if addrs, err = evsel.Resolve("tcp6", "localhost:80"); err == nil {
		for _, addr := range addrs {
			assert.Nil(t, tcpAddr(t, addr).IP.To4(), "tcp6 returned %v", addr)
		}
	}

	u, err := evsel.Resolve("unix", "/tmp/x.sock")
	require.NoError(t, err)
	assert.Equal(t, []net.Addr{&net.UnixAddr{Name: "/tmp/x.sock", Net: "unix"}}, u)

	// The datagram networks resolve to UDP addresses, for ListenPacket;
	// the stream calls refuse them, and the datagram calls refuse "tcp".
	addrs, err = evsel.Resolve("udp", "127.0.0.1:80")
	require.NoError(t, err)
	assert.Equal(t, "udp", addrs[0].Network())
	assert.Equal(t, "127.0.0.1:80", addrs[0].String())
	_, err = evsel.Listen("udp", "127.0.0.1:0")
	assert.Error(t, err, "Listen(udp)")
	_, err = evsel.Dial("udp", "127.0.0.1:80")
	assert.Error(t, err, "Dial(udp)")
	_, err = evsel.ListenPacket("tcp", "127.0.0.1:0")
	assert.Error(t, err, "ListenPacket(tcp)")
	_, err = evsel.DialPacket("unix", "/nonexistent")
	assert.Error(t, err, "DialPacket(unix)")

	for _, bad := range [][2]string{
		{"ip", "127.0.0.1:80"},
		{"", "127.0.0.1:80"},
		{"tcp", "127.0.0.1"},       // no port
		{"tcp", "127.0.0.1:nope"},  // unknown service
		{"tcp", "127.0.0.1:99999"}, // port out of range
	} {
		_, err := evsel.Resolve(bad[0], bad[1])
		assert.Error(t, err, "Resolve(%q, %q)", bad[0], bad[1])
		_, err = evsel.Listen(bad[0], bad[1])
		assert.Error(t, err, "Listen(%q, %q)", bad[0], bad[1])
		_, err = evsel.Dial(bad[0], bad[1])
		assert.Error(t, err, "Dial(%q, %q)", bad[0], bad[1])
	}
}

func TestOptionSetters(t *testing.T) {
	client, _ := tcpPair(t)
	assert.NoError(t, client.SetNoDelay(true))
	assert.NoError(t, client.SetNoDelay(false))
	assert.NoError(t, client.SetKeepAlive(true))
	assert.NoError(t, client.SetReuseAddr(true))
	if err := client.SetReusePort(true); !errors.Is(err, errors.ErrUnsupported) { // Windows has none
		assert.NoError(t, err)
	}
	assert.NoError(t, client.SetReadBuffer(32<<10))
	assert.NoError(t, client.SetWriteBuffer(32<<10))
	assert.NoError(t, client.SetLinger(5))
	assert.NoError(t, client.SetLinger(-1))
	assert.NoError(t, client.SetLinger(0))
	checkOptions(t, client)
}

func TestReusePort(t *testing.T) {
	lc := evsel.ListenConfig{ReusePort: true, Backlog: 16}
	a, err := lc.Listen("tcp", "127.0.0.1:0")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no SO_REUSEPORT on this system:", err)
	}
	require.NoError(t, err)
	cleanupClose(t, a)
	addr, err := a.LocalAddr()
	require.NoError(t, err)

	// A second listener on the same port: allowed with SO_REUSEPORT only.
	_, err = evsel.Listen("tcp", addr.String())
	assert.Error(t, err, "bound twice without SO_REUSEPORT")
	b, err := lc.Listen("tcp", addr.String())
	require.NoError(t, err)
	cleanupClose(t, b)
}

// resetByPeer returns a connected socket whose peer has reset the
// connection (SO_LINGER 0, then close), once the reset has arrived.
func resetByPeer(t *testing.T) *evsel.Socket {
	client, server := tcpPair(t)
	require.NoError(t, server.SetLinger(0))
	require.NoError(t, server.Close())
	waitOnce(t, client, evsel.EventRead)
	return client
}

// skipResetReadAsEOF skips where the read that met a reset returned
// io.EOF: Windows says WSAECONNRESET, but Wine 8 takes the error for itself.
func skipResetReadAsEOF(t *testing.T, err error) {
	if err == io.EOF && runtime.GOOS == "windows" {
		t.Skip("the reset was read as end of file (Wine)")
	}
}

func TestPeerReset(t *testing.T) {
	_, err := resetByPeer(t).Read(make([]byte, 8))
	skipResetReadAsEOF(t, err)
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	var errno syscall.Errno
	assert.True(t, errors.As(err, &errno), "the errno stays reachable: %v", err)
}

func TestSetBlocking(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, client.SetBlocking(true))
	done := make(chan error, 1)
	go func() {
		time.Sleep(10 * time.Millisecond) // most likely while Read blocks
		_, err := server.Write([]byte("late"))
		done <- err
	}()
	buf := make([]byte, 8)
	n, err := client.Read(buf)
	require.NoError(t, err, "a blocking read waits for data instead of ErrWouldBlock")
	assert.Equal(t, "late", string(buf[:n]))
	require.NoError(t, <-done)

	require.NoError(t, client.SetBlocking(false))
	_, err = client.Read(buf)
	assert.Equal(t, evsel.ErrWouldBlock, err)
}

func TestSocketClosed(t *testing.T) {
	s, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	assert.Equal(t, evsel.IPv4, s.Family())
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Close(), evsel.ErrClosed, "Close twice")

	buf := make([]byte, 8)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	_, err = s.Read(buf)
	assert.ErrorIs(t, err, evsel.ErrClosed)
	_, err = s.Write(buf)
	assert.ErrorIs(t, err, evsel.ErrClosed)
	_, err = s.Writev([][]byte{buf})
	assert.ErrorIs(t, err, evsel.ErrClosed)
	_, _, err = s.Accept()
	assert.ErrorIs(t, err, evsel.ErrClosed)
	assert.ErrorIs(t, s.Connect(addr), evsel.ErrClosed)
	assert.ErrorIs(t, s.ConnectResult(), evsel.ErrClosed)
	assert.ErrorIs(t, s.Bind(addr), evsel.ErrClosed)
	assert.ErrorIs(t, s.Listen(0), evsel.ErrClosed)
	assert.ErrorIs(t, s.Shutdown(evsel.ShutBoth), evsel.ErrClosed)
	assert.ErrorIs(t, s.SetBlocking(true), evsel.ErrClosed)
	assert.ErrorIs(t, s.SetNoDelay(true), evsel.ErrClosed)
	assert.ErrorIs(t, s.SetLinger(0), evsel.ErrClosed)
	_, err = s.LocalAddr()
	assert.ErrorIs(t, err, evsel.ErrClosed)
	_, err = s.RemoteAddr()
	assert.ErrorIs(t, err, evsel.ErrClosed)

	var nilSock *evsel.Socket
	assert.ErrorIs(t, nilSock.Close(), evsel.ErrClosed)
	assert.Equal(t, ^uintptr(0), nilSock.Fd())
}

// TestSocketZeroValue: a Socket's zero value has no descriptor, as a closed
// one; as descriptor 0 its Close would close standard input.
func TestSocketZeroValue(t *testing.T) {
	var zero evsel.Socket
	assert.Equal(t, ^uintptr(0), zero.Fd())
	assert.ErrorIs(t, zero.Close(), evsel.ErrClosed)
	_, err := zero.Write([]byte("x"))
	assert.ErrorIs(t, err, evsel.ErrClosed)
	_, err = zero.TryRead(make([]byte, 1))
	assert.ErrorIs(t, err, evsel.ErrClosed)
	assert.Zero(t, zero.Family())
}

func TestSocketErrors(t *testing.T) {
	_, err := evsel.NewSocket(evsel.Family(99))
	assert.Error(t, err)

	s, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	cleanupClose(t, s)
	assert.Error(t, s.Bind(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}), "not a stream address")
	_, err = s.RemoteAddr()
	assert.Error(t, err, "not connected")

	// An unknown direction is an error, not a silent shutdown of some
	// direction.
	client, server := tcpPair(t)
	assert.Error(t, client.Shutdown(evsel.ShutdownHow(42)))
	exchange(t, client, server)
}

func TestFamilyString(t *testing.T) {
	assert.Equal(t, "ipv4", evsel.IPv4.String())
	assert.Equal(t, "ipv6", evsel.IPv6.String())
	assert.Equal(t, "unix", evsel.Unix.String())
	assert.Equal(t, "family(7)", evsel.Family(7).String())
}

// TestAddressesForTheSocketsFamily: an IPv6 socket connects to an IPv4
// listener through the v4-mapped address (where IPv6 sockets are dual-stack
// by default: not on Windows), and a TCP address without an IP is the
// wildcard of the socket's own family, as in Python and Go's net.
func TestAddressesForTheSocketsFamily(t *testing.T) {
	v4, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	cleanupClose(t, v4)
	require.NoError(t, v4.Bind(&net.TCPAddr{}), "no IP on an IPv4 socket")
	la, err := v4.LocalAddr()
	require.NoError(t, err)
	assert.True(t, la.(*net.TCPAddr).IP.Equal(net.IPv4zero), "%v", la)

	if !haveIPv6Loopback() {
		t.Skip("no IPv6 here")
	}
	if runtime.GOOS == "windows" {
		// Its IPv6 sockets are IPV6_V6ONLY unless told otherwise, in
		// Python as here, so they reach no IPv4 peer.
		return
	}
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	lnAddr, err := ln.LocalAddr()
	require.NoError(t, err)
	v6, err := evsel.NewSocket(evsel.IPv6)
	require.NoError(t, err)
	cleanupClose(t, v6)
	if err := v6.Connect(lnAddr); err != nil {
		require.ErrorIs(t, err, evsel.ErrInProgress)
		waitOnce(t, v6, evsel.EventWrite)
		require.NoError(t, v6.ConnectResult())
	}
	peer, err := v6.RemoteAddr()
	require.NoError(t, err)
	assert.Equal(t, lnAddr.(*net.TCPAddr).Port, peer.(*net.TCPAddr).Port)
	assert.True(t, peer.(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)), "%v", peer)
}

// TestIPv6Zones: a zone is an interface's name or its number, as Python's
// getaddrinfo and Go's net take it; one that names nothing is an error,
// not silently no zone.
func TestIPv6Zones(t *testing.T) {
	if !haveIPv6Loopback() {
		t.Skip("no IPv6 here")
	}
	lo, err := loopbackInterface()
	if err != nil {
		t.Skip(err)
	}
	ln, err := evsel.Listen("tcp", "[::1]:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	port := mustLocal(t, ln).(*net.TCPAddr).Port
	for _, zone := range []string{lo.Name, strconv.Itoa(lo.Index)} {
		s, err := evsel.NewSocket(evsel.IPv6)
		require.NoError(t, err)
		cleanupClose(t, s)
		err = s.Connect(&net.TCPAddr{IP: net.IPv6loopback, Port: port, Zone: zone})
		if err != nil {
			require.ErrorIs(t, err, evsel.ErrInProgress, "zone %q", zone)
			waitOnce(t, s, evsel.EventWrite)
			require.NoError(t, s.ConnectResult(), "zone %q", zone)
		}
	}
	s, err := evsel.NewSocket(evsel.IPv6)
	require.NoError(t, err)
	cleanupClose(t, s)
	err = s.Connect(&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: port, Zone: "no-such-interface"})
	assert.ErrorContains(t, err, `zone "no-such-interface"`)
}

func loopbackInterface() (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 {
			return &ifs[i], nil
		}
	}
	return nil, fmt.Errorf("no loopback interface")
}

// TestHasUnread: bytes in the receive queue are seen without being read.
func TestHasUnread(t *testing.T) {
	client, server := tcpPair(t)
	assert.False(t, server.HasUnread())
	writeAll(t, client, []byte("abc"))
	deadline := time.Now().Add(watchdog)
	for !server.HasUnread() {
		require.True(t, time.Now().Before(deadline), "the bytes never showed")
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, "abc", string(readFull(t, server, 3)), "peeking took nothing")
	assert.False(t, server.HasUnread())
	require.NoError(t, client.Close())
	time.Sleep(10 * time.Millisecond)
	assert.False(t, server.HasUnread(), "an end of stream is no unread byte")
	var zero evsel.Socket
	assert.False(t, zero.HasUnread())
}
