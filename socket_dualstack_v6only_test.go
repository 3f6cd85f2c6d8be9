//go:build unix || windows

package evsel

import (
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDualStackV6OnlyFixed: where IPV6_V6ONLY cannot be turned off
// (OpenBSD refuses it with EINVAL), DualStack's "[::]" listens on IPv6
// alone, as it did before DualStack and as Go's net does there, and no
// host on IPv4's wildcard; neither fails.
func TestDualStackV6OnlyFixed(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 here")
	} else {
		ln.Close()
	}
	old := clearV6Only
	clearV6Only = func(*Socket) error { return syscall.EINVAL }
	t.Cleanup(func() { clearV6Only = old })

	lc := ListenConfig{DualStack: true}
	for _, tc := range []struct {
		network, address string
		want             Family
	}{
		{"tcp", "[::]:0", IPv6},
		{"tcp", ":0", IPv4},
		{"udp", "[::]:0", IPv6},
		{"udp", ":0", IPv4},
	} {
		var s *Socket
		var err error
		if tc.network == "tcp" {
			s, err = lc.Listen(tc.network, tc.address)
		} else {
			s, err = lc.ListenPacket(tc.network, tc.address)
		}
		require.NoError(t, err, "%s %s", tc.network, tc.address)
		assert.Equal(t, tc.want, s.Family(), "%s %s", tc.network, tc.address)
		s.Close()
	}
}
