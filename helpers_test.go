package evsel_test

import (
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/sockettest"
)

var watchdog = sockettest.Watchdog

// eachBackend runs test once per poller backend of this platform, as
// subtests named after the backend.
func eachBackend(t *testing.T, test func(t *testing.T, backend string)) {
	t.Helper()
	backends := evsel.Backends()
	require.NotEmpty(t, backends, "no poller backend on this platform")
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { test(t, b) })
	}
}

// newPoller opens a poller of the named backend that the test closes at its
// end.
func newPoller(t testing.TB, backend string) evsel.Poller {
	t.Helper()
	p, err := evsel.NewPollerNamed(backend)
	require.NoError(t, err)
	require.Equal(t, backend, p.Name())
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

// The socket helpers shared with the selector suite.
var (
	cleanupClose = sockettest.CloseAtCleanup
	waitFor      = sockettest.WaitFor
	waitOnce     = sockettest.WaitOnce
	dialPair     = sockettest.DialPair
	tcpPair      = sockettest.TCPPair
	socketPair   = sockettest.SocketPair
)

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
