package evsel_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestListenDualStack: with DualStack, "tcp" with no host or "::" listens
// on one socket that IPv4 and IPv6 clients both reach, as Go's net.Listen
// does; an explicit IPv4 address, and no host without DualStack, stay
// IPv4's alone.
func TestListenDualStack(t *testing.T) {
	reaches := func(s *evsel.Socket, host string) bool {
		t.Helper()
		port := mustLocal(t, s).(*net.TCPAddr).Port
		c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	listen := func(lc evsel.ListenConfig, address string) *evsel.Socket {
		t.Helper()
		s, err := lc.Listen("tcp", address)
		require.NoError(t, err)
		cleanupClose(t, s)
		return s
	}

	plain := listen(evsel.ListenConfig{}, ":0")
	assert.Equal(t, evsel.IPv4, plain.Family(), "without DualStack no host is IPv4's wildcard, as in Python")
	assert.True(t, reaches(plain, "127.0.0.1"))
	v4 := listen(evsel.ListenConfig{DualStack: true}, "0.0.0.0:0")
	assert.Equal(t, evsel.IPv4, v4.Family(), "an IPv4 address is IPv4's")

	if !haveIPv6Loopback() {
		// No IPv6: no host falls back to IPv4's wildcard.
		s := listen(evsel.ListenConfig{DualStack: true}, ":0")
		assert.True(t, reaches(s, "127.0.0.1"))
		t.Skip("no IPv6 here: the fallback is all there is to see")
	}
	assert.False(t, reaches(plain, "::1"), "an IPv4 listener reached over IPv6")
	for _, address := range []string{":0", "[::]:0"} {
		s := listen(evsel.ListenConfig{DualStack: true}, address)
		assert.Equal(t, evsel.IPv6, s.Family(), address)
		assert.True(t, reaches(s, "::1"), "%s over IPv6", address)
		assert.True(t, reaches(s, "127.0.0.1"), "%s over IPv4", address)
	}
	// The ReusePort sockets of one address (one per loop) share the port.
	lc := evsel.ListenConfig{DualStack: true, ReusePort: true}
	first, err := lc.Listen("tcp", ":0")
	if err != nil {
		t.Skipf("no SO_REUSEPORT here: %v", err)
	}
	cleanupClose(t, first)
	listen(lc, mustLocal(t, first).String())
}
