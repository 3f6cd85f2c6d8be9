//go:build unix

package evsel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// socketPair is the cheapest connected pair of evsel sockets the platform
// has: here a Unix socketpair.
func socketPair(t testing.TB) (a, b *evsel.Socket) {
	t.Helper()
	a, b, err := evsel.Socketpair()
	require.NoError(t, err)
	cleanupClose(t, a, b)
	return a, b
}
