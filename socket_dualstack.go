package evsel

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// listenDualStack is ListenConfig.Listen and ListenPacket for DualStack's
// addresses: "tcp" or "udp" (network) with no host or with "::". done is
// false when address is not one of them, or has no host and the system no
// IPv6, and the caller goes on as without DualStack (IPv4's wildcard for
// no host).
//
// A server moved from gnet or from Go's net listens on ":port" and expects
// IPv6 clients as well as IPv4 ones; bound to 0.0.0.0 it refused them.
func (lc ListenConfig) listenDualStack(network, address string) (s *Socket, done bool, err error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, false, nil // Resolve reports it
	}
	if host != "" {
		if ip, err := netip.ParseAddr(host); err != nil || ip != netip.IPv6Unspecified() {
			return nil, false, nil
		}
	}
	addrs, err := Resolve(network+"6", net.JoinHostPort("::", port))
	if err != nil {
		return nil, true, err
	}
	// Each step that fails for want of IPv6 (no AF_INET6, IPv6 disabled
	// on every interface) falls back for no host; a port in use or refused
	// does not.
	datagram := network == "udp"
	if datagram {
		s, err = NewDatagramSocket(IPv6)
	} else {
		s, err = NewSocket(IPv6)
	}
	if err != nil {
		return nil, host != "", err
	}
	if err = clearV6Only(s); err != nil && host == "" {
		// IPV6_V6ONLY cannot be turned off (OpenBSD): IPv4's wildcard
		// serves more of the clients "no host" means than IPv6's alone.
		s.Close()
		return nil, false, err
	}
	// "::" is IPv6's wildcard, served alone where it cannot be both, as
	// Go's net serves it there (and as it was before DualStack).
	if datagram {
		err = lc.bind(s, addrs[0])
	} else {
		err = lc.listen(s, addrs[0])
	}
	if err == nil {
		return s, true, nil
	}
	s.Close()
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return nil, host != "", err
	}
	return nil, true, err
}

// clearV6Only turns IPV6_V6ONLY off; a variable so that a test can fail
// it as OpenBSD does.
var clearV6Only = func(s *Socket) error { return s.setInt(ipprotoIPv6, ipv6V6Only, 0) }
