//go:build unix || windows

package evsel

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestZoneByNumber: a numeric IPv6 zone is the interface index itself, as
// Python's getaddrinfo and Go's net take it (a connect to ::1 works with
// any zone, so only the sockaddr shows it).
func TestZoneByNumber(t *testing.T) {
	sa, err := toSockaddr(&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "7"})
	require.NoError(t, err)
	v6, ok := sa.(*sockaddrInet6)
	require.True(t, ok)
	assert.EqualValues(t, 7, v6.ZoneId)
	a := fromSockaddr(&sockaddrInet6{Addr: v6.Addr, Port: 80, ZoneId: 1 << 30})
	assert.Equal(t, "1073741824", a.(*net.TCPAddr).Zone, "an index no interface has stays a number")
}
