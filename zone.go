//go:build unix || windows

package evsel

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// IPv6 zones. A link-local address needs its interface, which the kernel
// gives as an index and Go's net, Python's getaddrinfo and a user's
// configuration as a name: "fe80::1%eth0". evsel names a zone as net does
// everywhere it returns one (RecvFrom's sender, LocalAddrPort,
// RemoteAddrPort, LocalAddr), so that the sender of a datagram compares
// equal to the same peer's address from anywhere else, and a reply to it
// is sent to the interface it came from.
//
// Asking the system (net.InterfaceByIndex, InterfaceByName) is a netlink
// dump on Linux: some fifty allocations and tens of microseconds, too much
// for every datagram sent to or received from a link-local peer. So the
// names are kept in a table that is read without a lock or an allocation
// and made again, at most once per zoneRefresh, when it lacks an index or
// a name (an interface added since), as net keeps a zone cache of its own.

// zoneRefresh is the least time between two rebuilds of the table: an
// index or a name it lacks costs one listing of the interfaces per period,
// however many datagrams ask.
const zoneRefresh = time.Second

// zoneMaxAge is how long an answer from the table is trusted. A name the
// table has may since have gone to another index (an interface deleted and
// made again), which a lookup that only refreshes on a miss would never
// learn; Go's net trusts its zone cache for a minute too.
const zoneMaxAge = time.Minute

type zoneTable struct {
	names   map[uint32]string
	indexes map[string]uint32
	built   time.Time
}

var (
	zones   atomic.Pointer[zoneTable]
	zonesMu sync.Mutex // one rebuild at a time
)

func (t *zoneTable) name(index uint32) (string, bool) {
	if t == nil || time.Since(t.built) > zoneMaxAge {
		return "", false
	}
	n, ok := t.names[index]
	return n, ok
}

func (t *zoneTable) index(name string) (uint32, bool) {
	if t == nil || time.Since(t.built) > zoneMaxAge {
		return 0, false
	}
	i, ok := t.indexes[name]
	return i, ok
}

// refreshZones lists the interfaces again unless the table is younger than
// zoneRefresh, and returns the table (nil if the system never listed them).
func refreshZones() *zoneTable {
	zonesMu.Lock()
	defer zonesMu.Unlock()
	t := zones.Load()
	if t != nil && time.Since(t.built) < zoneRefresh {
		return t
	}
	nt := &zoneTable{built: time.Now()}
	if ifs, err := net.Interfaces(); err == nil {
		nt.names = make(map[uint32]string, len(ifs))
		nt.indexes = make(map[string]uint32, len(ifs))
		for _, ifi := range ifs {
			nt.names[uint32(ifi.Index)] = ifi.Name
			nt.indexes[ifi.Name] = uint32(ifi.Index)
		}
	} else if t != nil {
		// Keep what was known; the time stamp still spaces the attempts.
		nt.names, nt.indexes = t.names, t.indexes
	}
	zones.Store(nt)
	return nt
}

// zoneName is the zone of interface index: its name, or its number when
// no interface has it (gone since the datagram came), which zoneIndex
// takes back; "" for 0, no zone.
func zoneName(index uint32) string {
	if index == 0 {
		return ""
	}
	if n, ok := zones.Load().name(index); ok {
		return n
	}
	if n, ok := refreshZones().name(index); ok {
		return n
	}
	return strconv.FormatUint(uint64(index), 10)
}

// zoneIndex is the interface index an IPv6 zone names: its number, as
// Python's getaddrinfo and Go's net take it, or the index of the interface
// of that name.
func zoneIndex(z string) (uint32, error) {
	if isDigits(z) { // not ParseUint's error for a name, which allocates
		if n, err := strconv.ParseUint(z, 10, 32); err == nil {
			return uint32(n), nil
		}
	}
	if i, ok := zones.Load().index(z); ok {
		return i, nil
	}
	if i, ok := refreshZones().index(z); ok {
		return i, nil
	}
	// Not listed, or listed before the interface came: ask for it alone,
	// which also gives the error of a name that is no interface.
	ifi, err := net.InterfaceByName(z)
	if err != nil {
		return 0, fmt.Errorf("evsel: sockaddr: IPv6 zone %q: %w", z, err)
	}
	return uint32(ifi.Index), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
