//go:build !unix

package selector_test

import (
	"testing"

	"github.com/evsel/evsel"
)

// socketPair is the cheapest connected pair of evsel sockets the platform
// has: here a TCP loopback connection.
func socketPair(t testing.TB) (a, b *evsel.Socket) {
	t.Helper()
	return tcpPair(t)
}
