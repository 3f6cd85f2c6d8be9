package evsel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// Family is a socket's address family.
type Family int

const (
	IPv4 Family = iota + 1 // AF_INET
	IPv6                   // AF_INET6
	Unix                   // AF_UNIX (stream)
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	case Unix:
		return "unix"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// ShutdownHow selects the direction Socket.Shutdown closes.
type ShutdownHow int

const (
	ShutRead  ShutdownHow = iota // no more receptions
	ShutWrite                    // no more transmissions: the peer reads EOF
	ShutBoth
)

// ListenConfig holds the options of a listening socket.
type ListenConfig struct {
	// Backlog is the accept queue length; 0 means the system maximum.
	Backlog int
	// ReusePort sets SO_REUSEPORT so several sockets (one per event loop)
	// can listen on the same address and let the kernel spread connections.
	ReusePort bool
	// NoReuseAddr leaves SO_REUSEADDR unset. It is set by default so a
	// restarted server can bind while old connections sit in TIME_WAIT.
	NoReuseAddr bool
	// DualStack makes "tcp" or "udp" with no host (":8080") or IPv6's
	// wildcard ("[::]:8080") bind an IPv6 socket with IPV6_V6ONLY off,
	// which takes IPv4 peers too, as IPv4-mapped addresses: what Go's
	// net.Listen and ListenPacket and gnet do with such an address. Without
	// IPv6 on the system, no host falls back to IPv4's wildcard. Without DualStack, no
	// host means IPv4's wildcard alone, as in Python. Any other IPv6
	// address ("tcp6" or "udp6" ones included) binds with IPV6_V6ONLY on,
	// whatever the system's default, as in Go's net and Python.
	DualStack bool
	// Control, if not nil, is called for each socket after the options
	// above are set and before it is bound, as net.ListenConfig's Control
	// is (see RunControl for its arguments): for the socket options
	// ListenConfig has no field for (SO_BINDTODEVICE, SO_MARK,
	// IP_FREEBIND...). An error fails the Listen with it.
	Control ControlFunc
}

// Listen is ListenConfig{}.Listen.
func Listen(network, address string) (*Socket, error) {
	return ListenConfig{}.Listen(network, address)
}

// Listen resolves address and returns a non-blocking listening socket bound
// to its first address. Network is "tcp", "tcp4", "tcp6" or "unix".
func (lc ListenConfig) Listen(network, address string) (*Socket, error) {
	if isPacketNetwork(network) {
		return nil, fmt.Errorf("evsel: Listen: %q is a datagram network (use ListenPacket)", network)
	}
	if lc.DualStack && network == "tcp" {
		if s, done, err := lc.listenDualStack(network, address); done {
			return s, err
		}
	}
	s, at, err := openFirst(network, address)
	if err != nil {
		return nil, err
	}
	v6Only(s)
	if err := lc.listen(s, at); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (lc ListenConfig) listen(s *Socket, addr net.Addr) error {
	if err := lc.bind(s, addr); err != nil {
		return err
	}
	return s.Listen(lc.Backlog)
}

// bind sets the options lc asks for on s, then binds it to addr.
func (lc ListenConfig) bind(s *Socket, addr net.Addr) error {
	if familyOf(addr) != Unix {
		if err := lc.reuse(s); err != nil {
			return err
		}
	}
	if err := RunControl(lc.Control, s, addr); err != nil {
		return err
	}
	return s.Bind(addr)
}

// v6Only makes an IPv6 socket about to be bound serve IPv6 alone, as Go's
// net does for "tcp6" and "udp6" and Python's create_server without
// dualstack_ipv6: the system's default differs (Linux takes IPv4 peers on
// "[::]", Windows and the BSDs do not), and a "tcp6" listener on "[::]"
// that took them also held the port against a "tcp4" one. DualStack's
// socket turns it off instead (listenDualStack). An error is ignored, as
// Go's net ignores it on the BSDs and Windows: a system that refuses the
// option keeps its own default (OpenBSD's is IPv6 alone).
func v6Only(s *Socket) {
	if s.Family() == IPv6 {
		_ = s.setInt(ipprotoIPv6, ipv6V6Only, 1)
	}
}

// reuse sets the address-reuse options lc asks for, before Bind.
func (lc ListenConfig) reuse(s *Socket) error {
	if !lc.NoReuseAddr {
		if err := s.SetReuseAddr(true); err != nil {
			return err
		}
	}
	if lc.ReusePort {
		return s.SetReusePort(true)
	}
	return nil
}

// Dial is DialConfig{}.Dial.
func Dial(network, address string) (*Socket, error) {
	return DialConfig{}.Dial(network, address)
}

// openFirst resolves address and opens a socket for its first address:
// a datagram socket for a datagram network, else a stream one. Listen,
// ListenPacket, Dial and DialPacket then set it up for their part.
func openFirst(network, address string) (*Socket, net.Addr, error) {
	addrs, err := Resolve(network, address)
	if err != nil {
		return nil, nil, err
	}
	open := NewSocket
	if isPacketNetwork(network) {
		open = NewDatagramSocket
	}
	s, err := open(familyOf(addrs[0]))
	if err != nil {
		return nil, nil, err
	}
	return s, addrs[0], nil
}

func familyOf(a net.Addr) Family {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a.IP.To4() != nil {
			return IPv4
		}
		return IPv6
	case *net.UDPAddr:
		if a.IP.To4() != nil {
			return IPv4
		}
		return IPv6
	case *net.UnixAddr:
		return Unix
	}
	return 0
}

// Resolve turns "host:port" (or a path for "unix") into socket addresses the
// way Python's getaddrinfo path does: a numeric host is used as is without
// asking anyone, an empty host means the wildcard address, and only names go
// to the resolver. For "tcp" IPv4 addresses come first, matching the
// AF_INET-first habit of the Python programs evsel replaces. The datagram
// networks "udp", "udp4", "udp6" (giving *net.UDPAddr) and "unixgram" are
// resolved the same way.
func Resolve(network, address string) ([]net.Addr, error) {
	switch network {
	case "unix":
		return []net.Addr{&net.UnixAddr{Name: address, Net: "unix"}}, nil
	case "udp", "udp4", "udp6", "unixgram":
		return resolvePacket(network, address)
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("evsel: unsupported network %q", network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.LookupPort(network, portStr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if host == "" {
		if network == "tcp6" {
			ips = []netip.Addr{netip.IPv6Unspecified()}
		} else {
			ips = []netip.Addr{netip.IPv4Unspecified()}
		}
	} else if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip} // a zone (fe80::1%eth0) is kept: link-local needs it
	} else {
		ipNet := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
		ips, err = net.DefaultResolver.LookupNetIP(context.Background(), ipNet, host)
		if err != nil {
			return nil, err
		}
	}
	var out []net.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if (network == "tcp4" && !ip.Is4()) || (network == "tcp6" && !ip.Is6()) {
			continue
		}
		out = append(out, &net.TCPAddr{IP: ip.AsSlice(), Port: port, Zone: ip.Zone()})
	}
	if len(out) == 0 {
		return nil, &net.AddrError{Err: "no suitable address", Addr: host}
	}
	if network == "tcp" {
		slices.SortStableFunc(out, func(a, b net.Addr) int {
			return int(familyOf(a)) - int(familyOf(b))
		})
	}
	return out, nil
}
