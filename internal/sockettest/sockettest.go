// Package sockettest holds the socket helpers the root and selector test
// suites share: connected pairs, closing at cleanup, and waiting for one
// descriptor's readiness with a watchdog.
package sockettest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testenv"
)

// Watchdog bounds every wait for readiness that a correct backend delivers
// at once, so that a broken one fails the test instead of hanging it. It is
// never used to judge speed.
var Watchdog = testenv.Bound(10 * time.Second)

// CloseAtCleanup closes the sockets at the end of the test unless the test
// closed them first.
func CloseAtCleanup(t testing.TB, socks ...*evsel.Socket) {
	t.Helper()
	t.Cleanup(func() {
		for _, s := range socks {
			if err := s.Close(); err != nil && !errors.Is(err, evsel.ErrClosed) {
				t.Error(err)
			}
		}
	})
}

// WaitFor waits on p until fd is reported with all of want, and returns the
// events reported for fd.
func WaitFor(t testing.TB, p evsel.Poller, fd int, want evsel.Events) evsel.Events {
	t.Helper()
	events := make([]evsel.Event, 64)
	end := time.Now().Add(Watchdog)
	for time.Now().Before(end) {
		n, err := p.Wait(events, time.Until(end))
		require.NoError(t, err)
		for _, e := range events[:n] {
			if e.Fd == fd && e.Events&want == want {
				return e.Events
			}
		}
	}
	t.Fatalf("fd %d not reported %v within %v", fd, want, Watchdog)
	return 0
}

// WaitOnce opens a default poller just to wait for one socket.
func WaitOnce(t testing.TB, s *evsel.Socket, want evsel.Events) {
	t.Helper()
	p, err := evsel.NewPoller()
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Add(int(s.Fd()), want))
	WaitFor(t, p, int(s.Fd()), want)
}

// DialPair connects a client to a new listener on network/address and
// returns the client and the accepted server side. The listener is closed.
func DialPair(t testing.TB, network, address string) (client, server *evsel.Socket) {
	t.Helper()
	ln, err := evsel.Listen(network, address)
	require.NoError(t, err)
	defer ln.Close()
	addr, err := ln.LocalAddr()
	require.NoError(t, err)

	client, err = evsel.Dial(network, addr.String())
	require.NoError(t, err)
	CloseAtCleanup(t, client)
	WaitOnce(t, client, evsel.EventWrite)
	require.NoError(t, client.ConnectResult())

	WaitOnce(t, ln, evsel.EventRead)
	server, _, err = ln.Accept()
	require.NoError(t, err)
	CloseAtCleanup(t, server)
	return client, server
}

// TCPPair is a connected pair of sockets over IPv4 loopback.
func TCPPair(t testing.TB) (client, server *evsel.Socket) {
	t.Helper()
	return DialPair(t, "tcp", "127.0.0.1:0")
}
