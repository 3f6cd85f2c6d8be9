//go:build linux || windows

package evsel

import (
	"net/netip"
	"unsafe"
)

// The socket addresses of the raw datagram calls on Linux and Windows,
// whose sockaddr_in and sockaddr_in6 have the same layout (a 16-bit
// family first). Converting by hand, into a buffer the caller owns, is
// what keeps SendTo and RecvFrom from allocating: x/sys's calls return and
// take their addresses as interfaces.

// rawInet is a sockaddr_in6, which has room for a sockaddr_in too.
type rawInet struct {
	family   uint16
	port     [2]byte // network byte order
	flowinfo uint32
	addr     [16]byte // sin_addr sits where sin6_flowinfo does
	scopeID  uint32
}

const (
	sizeofInet4 = 16
	sizeofInet6 = int32(unsafe.Sizeof(rawInet{}))
)

// put fills r with ap and returns its length; v6 asks for sockaddr_in6
// even for an IPv4 address (mapped), for an IPv6 socket.
func (r *rawInet) put(ap netip.AddrPort, v6 bool) int32 {
	ip := ap.Addr()
	*r = rawInet{}
	r.port = [2]byte{byte(ap.Port() >> 8), byte(ap.Port())}
	if ip.Is4() && !v6 {
		r.family = afInet
		a := ip.As4()
		copy((*[4]byte)(unsafe.Pointer(&r.flowinfo))[:], a[:])
		return sizeofInet4
	}
	r.family = afInet6
	r.addr = ip.As16()
	if z := ip.Zone(); z != "" {
		r.scopeID, _ = zoneIndex(z) // an unknown zone: none, which the kernel refuses for link-local
	}
	return sizeofInet6
}

// get returns the address r holds, the zero value if it is none of IP's.
func (r *rawInet) get() netip.AddrPort {
	port := uint16(r.port[0])<<8 | uint16(r.port[1])
	switch r.family {
	case afInet:
		a := *(*[4]byte)(unsafe.Pointer(&r.flowinfo))
		return netip.AddrPortFrom(netip.AddrFrom4(a), port)
	case afInet6:
		ip := netip.AddrFrom16(r.addr)
		if r.scopeID != 0 {
			// Only link-local peers have one: named as everywhere else
			// (zone.go), from a table, so the receive path does not ask
			// the system for the interface.
			ip = ip.WithZone(zoneName(r.scopeID))
		}
		return netip.AddrPortFrom(ip, port)
	}
	return netip.AddrPort{}
}
