//go:build !unix

package sockettest

import (
	"testing"

	"github.com/evsel/evsel"
)

// SocketPair is the cheapest connected pair of sockets the platform has:
// here a TCP loopback connection.
func SocketPair(t testing.TB) (a, b *evsel.Socket) {
	t.Helper()
	return TCPPair(t)
}
