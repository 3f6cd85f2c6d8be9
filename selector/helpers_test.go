package selector_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
	"github.com/evsel/evsel/selector"
)

var watchdog = sockettest.Watchdog

// eachBackend runs test once per backend of this platform, as subtests named
// after the backend.
func eachBackend(t *testing.T, test func(t *testing.T, backend string)) {
	t.Helper()
	backends := selector.Backends()
	require.NotEmpty(t, backends, "no backend on this platform")
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { test(t, b) })
	}
}

// newSelector opens a selector on backend that the test closes at its end.
func newSelector(t testing.TB, backend string) *selector.Selector {
	t.Helper()
	s, err := selector.NewBackend(backend)
	require.NoError(t, err)
	require.Equal(t, backend, s.Backend())
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// The socket helpers shared with the root package's suite.
var (
	cleanupClose = sockettest.CloseAtCleanup
	waitOnce     = sockettest.WaitOnce
	tcpPair      = sockettest.TCPPair
	socketPair   = sockettest.SocketPair
)

// netPair is a connected pair of Go runtime TCP connections over loopback.
func netPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = ln.AcceptTCP()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	return client, server
}

// selectUntil selects until the result contains every key of want with at
// least the events given, and returns that result.
func selectUntil(t testing.TB, s *selector.Selector, want map[*selector.Key]selector.Events) []selector.Ready {
	t.Helper()
	end := time.Now().Add(watchdog)
	for time.Now().Before(end) {
		ready, err := s.Select(time.Until(end))
		require.NoError(t, err)
		found := 0
		for _, r := range ready {
			if ev, ok := want[r.Key]; ok && r.Events&ev == ev {
				found++
			}
		}
		if found == len(want) {
			return ready
		}
	}
	t.Fatalf("not all of %d keys became ready within %v", len(want), watchdog)
	return nil
}

// readyEvents polls s once and returns the events reported for k.
func readyEvents(t testing.TB, s *selector.Selector, k *selector.Key) selector.Events {
	t.Helper()
	ready, err := s.Select(0)
	require.NoError(t, err)
	var ev selector.Events
	for _, r := range ready {
		if r.Key == k {
			ev |= r.Events
		}
	}
	return ev
}
