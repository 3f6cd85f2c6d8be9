package evsel_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// watchdog bounds every wait for readiness that a correct backend delivers at
// once, so that a broken one fails the test instead of hanging it. It is
// never used to judge speed.
const watchdog = 10 * time.Second

// eachBackend runs test once per poller backend of this platform, as
// subtests named after the backend.
func eachBackend(t *testing.T, test func(t *testing.T, b evsel.Backend)) {
	t.Helper()
	backends := evsel.Backends()
	require.NotEmpty(t, backends, "no poller backend on this platform")
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) { test(t, b) })
	}
}

// newPoller opens a poller of backend b that the test closes at its end.
func newPoller(t testing.TB, b evsel.Backend) evsel.Poller {
	t.Helper()
	p, err := b.New()
	require.NoError(t, err)
	require.Equal(t, b.Name, p.Name())
	t.Cleanup(func() { closeQuietly(p) })
	return p
}

// closer is anything closed at cleanup; ErrClosed means the test closed it
// itself already.
type closer interface{ Close() error }

func closeQuietly(c closer) {
	if err := c.Close(); err != nil && !errors.Is(err, evsel.ErrClosed) {
		panic(err)
	}
}

// cleanupClose closes the sockets at the end of the test unless the test
// closed them first.
func cleanupClose(t testing.TB, socks ...*evsel.Socket) {
	t.Helper()
	t.Cleanup(func() {
		for _, s := range socks {
			closeQuietly(s)
		}
	})
}

// waitFor waits on p until fd is reported with all of want, and returns the
// events reported for fd.
func waitFor(t testing.TB, p evsel.Poller, fd int, want evsel.Events) evsel.Events {
	t.Helper()
	events := make([]evsel.Event, 64)
	end := time.Now().Add(watchdog)
	for time.Now().Before(end) {
		n, err := p.Wait(events, time.Until(end))
		require.NoError(t, err)
		for _, e := range events[:n] {
			if e.Fd == fd && e.Events&want == want {
				return e.Events
			}
		}
	}
	t.Fatalf("fd %d not reported %v within %v", fd, want, watchdog)
	return 0
}

// readyNow polls p once and returns the events reported for fd (0 if none).
func readyNow(t testing.TB, p evsel.Poller, fd int) evsel.Events {
	t.Helper()
	events := make([]evsel.Event, 64)
	n, err := p.Wait(events, 0)
	require.NoError(t, err)
	var ev evsel.Events
	for _, e := range events[:n] {
		if e.Fd == fd {
			ev |= e.Events
		}
	}
	return ev
}

// waitOnce opens a default poller just to wait for one descriptor.
func waitOnce(t testing.TB, s *evsel.Socket, want evsel.Events) {
	t.Helper()
	p, err := evsel.NewPoller()
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Add(int(s.Fd()), want))
	waitFor(t, p, int(s.Fd()), want)
}

// dialPair connects a client to a new listener on network/address and
// returns the client and the accepted server side. The listener is closed.
func dialPair(t testing.TB, network, address string) (client, server *evsel.Socket) {
	t.Helper()
	ln, err := evsel.Listen(network, address)
	require.NoError(t, err)
	defer ln.Close()
	addr, err := ln.LocalAddr()
	require.NoError(t, err)

	client, err = evsel.Dial(network, addr.String())
	require.NoError(t, err)
	cleanupClose(t, client)
	waitOnce(t, client, evsel.EventWrite)
	require.NoError(t, client.ConnectResult())

	waitOnce(t, ln, evsel.EventRead)
	server, _, err = ln.Accept()
	require.NoError(t, err)
	cleanupClose(t, server)
	return client, server
}

// tcpPair is a connected pair of evsel sockets over IPv4 loopback.
func tcpPair(t testing.TB) (client, server *evsel.Socket) {
	t.Helper()
	return dialPair(t, "tcp", "127.0.0.1:0")
}

// writeAll writes b to a non-blocking socket, waiting whenever its send
// buffer is full.
func writeAll(t testing.TB, s *evsel.Socket, b []byte) {
	t.Helper()
	for len(b) > 0 {
		n, err := s.Write(b)
		if err == evsel.ErrWouldBlock {
			waitOnce(t, s, evsel.EventWrite)
			continue
		}
		require.NoError(t, err)
		b = b[n:]
	}
}

// readFull reads exactly n bytes from a non-blocking socket.
func readFull(t testing.TB, s *evsel.Socket, n int) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	buf := make([]byte, 64<<10)
	for len(out) < n {
		m, err := s.Read(buf[:min(len(buf), n-len(out))])
		if err == evsel.ErrWouldBlock {
			waitOnce(t, s, evsel.EventRead)
			continue
		}
		require.NoError(t, err)
		out = append(out, buf[:m]...)
	}
	return out
}

// tcpAddr asserts a is a *net.TCPAddr and returns it.
func tcpAddr(t testing.TB, a net.Addr) *net.TCPAddr {
	t.Helper()
	ta, ok := a.(*net.TCPAddr)
	require.Truef(t, ok, "%T is not a *net.TCPAddr", a)
	return ta
}
