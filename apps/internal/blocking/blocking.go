// Package blocking holds the few helpers the blocking echo programs need on
// top of evsel.Socket, standing in for what Python's socket module does for
// them: resolve "host:port" to one address, open a blocking socket for it,
// connect (waiting out an interrupted connect as Python does), and sendall.
package blocking

import (
	"errors"
	"net"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/selector"
)

// Socket resolves host and port like Python's socket functions (a numeric
// host as is, an IPv4 address first for a name) and returns a blocking
// stream socket of the matching family with the address to use.
func Socket(host, port string) (*evsel.Socket, net.Addr, error) {
	addrs, err := evsel.Resolve("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, nil, err
	}
	fam := evsel.IPv4
	if a, ok := addrs[0].(*net.TCPAddr); ok && a.IP.To4() == nil {
		fam = evsel.IPv6
	}
	s, err := evsel.NewSocket(fam)
	if err != nil {
		return nil, nil, err
	}
	if err := s.SetBlocking(true); err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, addrs[0], nil
}

// Connect connects the blocking socket s to addr. A blocking connect
// interrupted by a signal goes on in the background (evsel reports it as
// ErrInProgress); Connect then waits for it to finish, like Python's
// sock.connect since PEP 475.
func Connect(s *evsel.Socket, addr net.Addr) error {
	err := s.Connect(addr)
	if !errors.Is(err, evsel.ErrInProgress) {
		return err
	}
	sel, err := selector.New()
	if err != nil {
		return err
	}
	defer sel.Close()
	if _, err := sel.Register(s, selector.EventWrite, nil); err != nil {
		return err
	}
	defer sel.Unregister(s)
	for {
		if _, err := sel.Select(selector.Forever); err != nil {
			return err
		}
		if err := s.ConnectResult(); !errors.Is(err, evsel.ErrInProgress) {
			return err
		}
	}
}

// SendAll writes all of p, like Python's sock.sendall.
func SendAll(s *evsel.Socket, p []byte) error {
	for len(p) > 0 {
		n, err := s.Write(p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}
