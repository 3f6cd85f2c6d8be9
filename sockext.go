//go:build unix || windows

package evsel

import (
	"net"
	"net/netip"
	"time"
	"unsafe"
)

// This file and its platform siblings (sockext_*.go) hold what an engine
// needs of a connection's socket beyond reading and writing: its addresses
// without allocating, and keep-alive tuning.

// LocalAddrPort returns the bound address of an IPv4 or IPv6 socket, and
// the zero AddrPort for other families, a link-local address with its zone
// named as RecvFrom and Go's net name it. Unlike LocalAddr it does not
// allocate on Linux, the BSDs and Windows; on macOS and OpenBSD the system
// call goes through libc, which does.
func (s *Socket) LocalAddrPort() (netip.AddrPort, error) {
	if err := s.ok(); err != nil {
		return netip.AddrPort{}, err
	}
	return s.addrPort(false)
}

// RemoteAddrPort is LocalAddrPort for the peer's address.
func (s *Socket) RemoteAddrPort() (netip.AddrPort, error) {
	if err := s.ok(); err != nil {
		return netip.AddrPort{}, err
	}
	return s.addrPort(true)
}

// SetKeepAliveConfig sets SO_KEEPALIVE and, when enabled, the idle time
// before the first probe, the interval between probes and how many
// unanswered probes drop the connection, with the rules of
// net.TCPConn.SetKeepAliveConfig: a zero field takes Go's default (15 s,
// 15 s, 9), a negative one leaves the system's setting alone. Times are
// rounded up to whole seconds. Setting a field the platform cannot tune
// (any on OpenBSD) fails with errors.ErrUnsupported.
func (s *Socket) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	if err := s.SetKeepAlive(cfg.Enable); err != nil || !cfg.Enable {
		return err
	}
	secs := func(d time.Duration) int {
		switch {
		case d < 0:
			return -1
		case d == 0:
			d = 15 * time.Second
		}
		return int((d + time.Second - 1) / time.Second)
	}
	count := cfg.Count
	switch {
	case count < 0:
		count = -1
	case count == 0:
		count = 9
	}
	return s.setKeepAliveProbes(secs(cfg.Idle), secs(cfg.Interval), count)
}

// netPort reads a port kept in network byte order.
func netPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func sockNameOp(peer bool) string {
	if peer {
		return "getpeername"
	}
	return "getsockname"
}

// withZone adds the zone of a scoped (link-local) IPv6 address, by
// interface name as net.TCPAddr has it (zone.go).
func withZone(a netip.Addr, zone uint32) netip.Addr {
	if zone == 0 {
		return a
	}
	return a.WithZone(zoneName(zone))
}
