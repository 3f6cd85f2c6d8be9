//go:build unix || windows

package evsel

import (
	"net"
	"testing"
	"time"

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

// TestZoneTable: zones are named as Go's net names them, from a table,
// without asking the system per address: a name and its index convert
// both ways without allocating, and an index no interface has is kept as
// its number.
func TestZoneTable(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Skip("no interfaces listed here")
	}
	ifi := ifs[0]
	idx, name := uint32(ifi.Index), ifi.Name
	assert.Equal(t, name, zoneName(idx))
	got, err := zoneIndex(name)
	require.NoError(t, err)
	assert.Equal(t, idx, got)
	assert.Equal(t, "", zoneName(0))
	assert.Equal(t, "1073741824", zoneName(1<<30), "an index no interface has stays a number")
	allocs := testing.AllocsPerRun(100, func() {
		if zoneName(idx) != name {
			panic("name")
		}
		if i, _ := zoneIndex(name); i != idx {
			panic("index")
		}
	})
	assert.Zero(t, allocs, "a zone is looked up in the system every time")
	_, err = zoneIndex("no-such-interface")
	assert.ErrorContains(t, err, `zone "no-such-interface"`)

	// A table older than zoneMaxAge is asked again: an interface made
	// again under its old name has another index.
	zonesMu.Lock()
	zones.Store(&zoneTable{names: map[uint32]string{idx: "stale"}, indexes: map[string]uint32{name: 1 << 30},
		built: time.Now().Add(-zoneMaxAge - time.Second)})
	zonesMu.Unlock()
	assert.Equal(t, name, zoneName(idx), "a stale table's name is trusted")
	zones.Store(&zoneTable{names: map[uint32]string{}, indexes: map[string]uint32{name: 1 << 30},
		built: time.Now().Add(-zoneMaxAge - time.Second)})
	got, err = zoneIndex(name)
	require.NoError(t, err)
	assert.Equal(t, idx, got, "a stale table's index is trusted")
}
