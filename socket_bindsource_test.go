package evsel_test

import (
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestBindSource: a socket bound as a connection's source connects from
// that address, and from the port asked for, if any.
func TestBindSource(t *testing.T) {
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	addr, err := ln.LocalAddr()
	require.NoError(t, err)

	// connectFrom connects from src and returns the local address, or the
	// error of the bind.
	connectFrom := func(t *testing.T, src *net.TCPAddr) (*net.TCPAddr, error) {
		t.Helper()
		s, err := evsel.NewSocket(evsel.IPv4)
		require.NoError(t, err)
		cleanupClose(t, s)
		if err := s.BindSource(src); err != nil {
			return nil, err
		}
		if err := s.Connect(addr); err != nil && !errors.Is(err, evsel.ErrInProgress) {
			require.NoError(t, err)
		}
		waitOnce(t, s, evsel.EventWrite)
		require.NoError(t, s.ConnectResult())
		local, err := s.LocalAddr()
		require.NoError(t, err)
		return local.(*net.TCPAddr), nil
	}
	got, err := connectFrom(t, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	require.True(t, got.IP.Equal(net.IPv4(127, 0, 0, 1)))
	require.NotZero(t, got.Port)

	// A port free a moment ago (another package's test may take it first:
	// then another).
	for try := 0; ; try++ {
		free, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := free.Addr().(*net.TCPAddr).Port
		free.Close()
		got, err := connectFrom(t, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			require.Less(t, try, 3, "binding a free port failed: %v", err)
			continue
		}
		require.Equal(t, port, got.Port)
		break
	}

	s, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	cleanupClose(t, s)
	require.Error(t, s.BindSource(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}), "TEST-NET-1 is no address of this host")
}
