//go:build unix

package sockettest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// SocketPair is the cheapest connected pair of sockets the platform has:
// here a Unix socketpair.
func SocketPair(t testing.TB) (a, b *evsel.Socket) {
	t.Helper()
	a, b, err := evsel.Socketpair()
	require.NoError(t, err)
	CloseAtCleanup(t, a, b)
	return a, b
}
