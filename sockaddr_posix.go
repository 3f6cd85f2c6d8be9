//go:build unix || windows

package evsel

import "net"

// Conversions between net.Addr and the system's socket addresses. The
// sockaddr types are aliases of golang.org/x/sys's (unix.SockaddrInet4 or
// windows.SockaddrInet4, ...), whose fields are the same on every system.

func toSockaddr(addr net.Addr) (sockaddr, error) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			sa := &sockaddrInet4{Port: a.Port}
			copy(sa.Addr[:], ip4)
			return sa, nil
		}
		sa := &sockaddrInet6{Port: a.Port}
		copy(sa.Addr[:], a.IP.To16())
		if a.Zone != "" {
			id, err := zoneIndex(a.Zone)
			if err != nil {
				return nil, err
			}
			sa.ZoneId = id
		}
		return sa, nil
	case *net.UDPAddr:
		return toSockaddr(&net.TCPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone})
	case *net.UnixAddr:
		return &sockaddrUnix{Name: a.Name}, nil
	}
	return nil, wrapErr("sockaddr", errAFNoSupport)
}

func fromSockaddr(sa sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *sockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *sockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		// By name, as Go's net does; by number if the interface has gone,
		// which zoneIndex takes back as well (zone.go).
		a.Zone = zoneName(sa.ZoneId)
		return a
	case *sockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// asDatagram gives the address of a datagram socket its datagram type:
// *net.UDPAddr for IP, "unixgram" for Unix.
func asDatagram(a net.Addr) net.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return &net.UDPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone}
	case *net.UnixAddr:
		a.Net = "unixgram"
	}
	return a
}
