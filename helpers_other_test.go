//go:build !unix

package evsel_test

import (
	"testing"

	"github.com/evsel/evsel"
)

// checkOptions would read the options back; the unix version does.
func checkOptions(t *testing.T, s *evsel.Socket) {}

// socketPair is the cheapest connected pair of evsel sockets the platform
// has: here a TCP loopback connection.
func socketPair(t testing.TB) (a, b *evsel.Socket) {
	t.Helper()
	return tcpPair(t)
}
