//go:build unix || windows

package evsel

import "net"

// BindSource binds s as the local end of a connection it is about to
// make (Connect): a source address, a source port, or both. With an
// address and port 0, Linux is told to choose the port at the connect
// (IP_BIND_ADDRESS_NO_PORT), when the destination is known, so that one
// source address serves as many connections as there are destinations
// times ports, as HAProxy's and nginx's proxy_bind do; bound the plain
// way, every connection from the address takes a port of its own from
// the ephemeral range, and the range runs out at about 28,000. Elsewhere
// it is Bind.
func (s *Socket) BindSource(addr net.Addr) error {
	if err := s.ok(); err != nil {
		return err
	}
	if a, ok := addr.(*net.TCPAddr); ok && a.Port == 0 && len(a.IP) > 0 && !a.IP.IsUnspecified() {
		sysBindAddressNoPort(s.fd()) // an optimisation: Bind works without it
	}
	return s.Bind(addr)
}
