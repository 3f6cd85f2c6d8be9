//go:build linux || freebsd || dragonfly || windows

package evsel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestAcceptSocketDoesNotAllocate holds AcceptSocket to its promise that
// accepting leaves no garbage behind, on the systems that can accept
// without building the peer's address (accept4 with no buffer on Linux and
// the BSDs above, accept with none on Windows; elsewhere x/sys's accept
// builds it anyway).
func TestAcceptSocketDoesNotAllocate(t *testing.T) {
	const runs = 50
	ln, err := evsel.ListenConfig{Backlog: 2 * runs}.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	addr, err := ln.LocalAddr()
	require.NoError(t, err)

	// AllocsPerRun calls the function once more than runs to warm up. A
	// blocking connect returns once the handshake is done, so every
	// connection is queued before the measuring starts.
	for range runs + 1 {
		c, err := evsel.NewSocket(evsel.IPv4)
		require.NoError(t, err)
		cleanupClose(t, c)
		require.NoError(t, c.SetBlocking(true))
		require.NoError(t, c.Connect(addr))
	}

	end := time.Now().Add(watchdog)
	allocs := testing.AllocsPerRun(runs, func() {
		for {
			s, err := ln.AcceptSocket()
			if err == evsel.ErrWouldBlock && time.Now().Before(end) {
				continue // queued, but not acceptable yet
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return
		}
	})
	if allocs != 0 {
		t.Fatalf("AcceptSocket allocates %v times per connection", allocs)
	}
}
