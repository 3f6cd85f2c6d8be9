package evsel_test

import (
	"net"
	"net/netip"
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

// TestListenV6Only: an IPv6 socket bound without DualStack ("tcp6" or
// "udp6" on "[::]", or "tcp" on "[::]" without it) serves IPv6 alone on
// every system, as Go's net does, so IPv4's wildcard can take the same
// port; Linux's default would have let the IPv6 socket take IPv4 peers
// and the port from IPv4's.
func TestListenV6Only(t *testing.T) {
	if !haveIPv6Loopback() {
		t.Skip("no IPv6 here")
	}
	for _, tc := range []struct {
		lc               evsel.ListenConfig
		network, address string
	}{
		{evsel.ListenConfig{DualStack: true}, "tcp6", "[::]:0"},
		{evsel.ListenConfig{}, "tcp", "[::]:0"},
		{evsel.ListenConfig{DualStack: true}, "udp6", "[::]:0"},
		{evsel.ListenConfig{}, "udp", "[::]:0"},
	} {
		name := tc.network + " " + tc.address
		datagram := tc.network[0] == 'u'
		// The port the IPv6 socket gets may be busy on IPv4 for a reason
		// of its own: a connection in TIME_WAIT from another test on it,
		// which a bind without SO_REUSEADDR (Windows' safe default) also
		// refuses. An IPv6 socket that held IPv4's wildcard would refuse
		// it on every port, so the same check on fresh ports tells them
		// apart.
		for try := 0; ; try++ {
			var s *evsel.Socket
			var err error
			if datagram {
				s, err = tc.lc.ListenPacket(tc.network, tc.address)
			} else {
				s, err = tc.lc.Listen(tc.network, tc.address)
			}
			require.NoError(t, err, name)
			cleanupClose(t, s)
			port := strconv.Itoa(int(mustLocal(t, s).(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()))
			v4 := evsel.ListenConfig{NoReuseAddr: true}
			var other *evsel.Socket
			if datagram {
				other, err = v4.ListenPacket("udp4", "0.0.0.0:"+port)
			} else {
				other, err = v4.Listen("tcp4", "0.0.0.0:"+port)
				if err == nil {
					c, derr := net.DialTimeout("tcp", net.JoinHostPort("::1", port), 5*time.Second)
					require.NoError(t, derr, "%s over IPv6", name)
					c.Close()
				}
			}
			if err != nil && try < 4 {
				continue
			}
			require.NoError(t, err, "%s held IPv4's wildcard too (on 5 ports in turn)", name)
			other.Close()
			break
		}
	}
}
