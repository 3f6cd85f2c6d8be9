package loop

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCloseListener: closing one of two addresses, with one socket per
// loop (ReusePort) and with one acceptor dealing to both loops: dials to
// it are refused, the other is still served, and the connections accepted
// from it go on.
func TestCloseListener(t *testing.T) {
	for _, reuse := range []bool{true, false} {
		t.Run(map[bool]string{true: "ReusePort", false: "one acceptor"}[reuse], func(t *testing.T) {
			e, a := start(t, echo, Options{Loops: 2, ReusePort: reuse})
			b, err := e.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			var held []net.Conn
			for range 4 { // on both loops
				c := dial(t, a)
				require.Equal(t, []byte("hi"), roundTrip(t, c, []byte("hi")))
				held = append(held, c)
			}
			addrA := e.Addrs()[0]
			require.Equal(t, a, addrA.String())

			require.NoError(t, e.CloseListener(addrA))
			require.Equal(t, []string{b.String()}, addrStrings(e.Addrs()))
			for range 4 {
				c, err := net.DialTimeout("tcp", a, 5*time.Second)
				if err == nil {
					c.Close()
				}
				require.Error(t, err, "a dial to the closed address was accepted")
			}
			for _, c := range held {
				require.Equal(t, []byte("on"), roundTrip(t, c, []byte("on")))
			}
			require.Equal(t, []byte("b"), roundTrip(t, dial(t, b.String()), []byte("b")))
			require.Equal(t, int64(4+1), e.Stats().Open)

			err = e.CloseListener(addrA)
			require.ErrorIs(t, err, net.ErrClosed, "closed twice")
			require.ErrorIs(t, e.CloseListener(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: b.(*net.TCPAddr).Port}), net.ErrClosed,
				"another network's address with the same port")
		})
	}
}

// TestCloseListenerPacket: a ListenPacket address's sockets (one per
// loop where SO_REUSEPORT spreads datagrams) are closed: no loop serves
// one any more, and Go's net, which sets neither SO_REUSEADDR nor
// SO_REUSEPORT on them, binds the port again.
func TestCloseListenerPacket(t *testing.T) {
	e, addr := startPacket(t, "udp", "127.0.0.1:0", packetEcho, Options{Loops: 2})
	served := func() int {
		n := 0
		for _, l := range e.Loops() {
			require.NoError(t, e.onLoop(l, func() error { n += len(servedPackets(l)); return nil }))
		}
		return n
	}
	require.NotZero(t, served())
	require.NoError(t, e.CloseListener(addr))
	require.Empty(t, e.Addrs())
	require.Zero(t, served())
	if runtime.GOOS == "windows" {
		return // Go's net cannot open a UDP socket under Wine (its SIO_UDP_CONNRESET ioctl fails)
	}
	s, err := net.ListenPacket("udp", addr.String())
	require.NoError(t, err, "a socket of the closed address is still open")
	s.Close()
}

// TestCloseListenerOnLoop: like Listen, it waits for the loops.
func TestCloseListenerOnLoop(t *testing.T) {
	e, addr := start(t, Funcs{Data: func(c *Conn) {
		err := c.Loop().Engine().CloseListener(c.LocalAddr())
		c.Write([]byte(map[bool]string{true: "refused", false: errString(err)}[errors.Is(err, ErrOnLoop)]))
		c.Consume(len(c.Inbound()))
	}}, Options{})
	_ = e
	require.Equal(t, []byte("refused"), roundTrip(t, dial(t, addr), []byte("1234567")))
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func addrStrings(addrs []net.Addr) []string {
	s := make([]string, 0, len(addrs))
	for _, a := range addrs {
		s = append(s, a.String())
	}
	slices.Sort(s)
	return s
}

// TestCloseListenerWildcard: a dual-stack listener (":0" binds "[::]")
// is closed by any wildcard form of its address.
func TestCloseListenerWildcard(t *testing.T) {
	e, err := New(echo, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	for _, form := range []func(port int) net.Addr{
		func(port int) net.Addr { return &net.TCPAddr{Port: port} },
		func(port int) net.Addr { return &net.TCPAddr{IP: net.IPv4zero, Port: port} },
		func(port int) net.Addr { return &net.TCPAddr{IP: net.IPv6unspecified, Port: port} },
	} {
		addr, err := e.Listen("tcp", ":0")
		require.NoError(t, err)
		port := addr.(*net.TCPAddr).Port
		require.ErrorIs(t, e.CloseListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}), net.ErrClosed,
			"a wildcard listener is not one address's")
		require.NoError(t, e.CloseListener(form(port)), "%s", form(port))
		require.Empty(t, e.Addrs())
	}
}

func TestSameAddr(t *testing.T) {
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	for _, c := range []struct {
		a, b net.Addr
		same bool
	}{
		{tcp("127.0.0.1", 80), tcp("127.0.0.1", 80), true},
		{tcp("127.0.0.1", 80), tcp("::ffff:127.0.0.1", 80), true},
		{tcp("127.0.0.1", 80), tcp("127.0.0.2", 80), false},
		{tcp("127.0.0.1", 80), tcp("127.0.0.1", 81), false},
		{tcp("", 80), tcp("::", 80), true},
		{tcp("0.0.0.0", 80), tcp("::", 80), true},
		{tcp("::", 80), tcp("::1", 80), false},
		{tcp("127.0.0.1", 80), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, false},
		{&net.UnixAddr{Name: "/a", Net: "unix"}, &net.UnixAddr{Name: "/a", Net: "unix"}, true},
		{&net.UnixAddr{Name: "/a", Net: "unix"}, &net.UnixAddr{Name: "/b", Net: "unix"}, false},
	} {
		require.Equal(t, c.same, sameAddr(c.a, c.b), "%s %s", c.a, c.b)
		require.Equal(t, c.same, sameAddr(c.b, c.a), "%s %s", c.b, c.a)
	}
}

// TestCloseListenerStopped: on a stopped engine it returns ErrStopped.
func TestCloseListenerStopped(t *testing.T) {
	e, err := New(echo, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop(t, e)
	require.ErrorIs(t, e.CloseListener(addr), ErrStopped)
}

// BenchmarkListenClose: a Listen and a CloseListener on a one-loop engine,
// each waiting for the loop to take or drop the socket (Engine.onLoop).
// Run it with -cpu 1,2: with one P, a caller the loop does not know it
// woke waits out the loop's wait.
func BenchmarkListenClose(b *testing.B) {
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(b, err)
	defer e.Stop(context.Background())
	for range b.N {
		addr, err := e.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		if err := e.CloseListener(addr); err != nil {
			b.Fatal(err)
		}
	}
}
