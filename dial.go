package evsel

import (
	"errors"
	"fmt"
	"net"
)

// DialConfig holds the options of an outgoing socket, as net.Dialer's
// fields of the same names do.
type DialConfig struct {
	// LocalAddr, if not nil, binds the socket before it connects: a
	// *net.TCPAddr or *net.UDPAddr chooses the source address, port or
	// both (a stream socket binds with BindSource), a *net.UnixAddr the
	// client's own path, which a "unixgram" peer needs to answer.
	LocalAddr net.Addr
	// Control, if not nil, is called for the socket before it is bound and
	// connected, with the address it connects to, as net.Dialer's Control
	// is (see RunControl). An error fails the dial with it.
	Control ControlFunc
}

// Dial resolves address and starts a non-blocking connect to its first
// address. The returned socket may still be connecting: wait until it is
// writable, then call ConnectResult. Errors other than "in progress" are
// returned at once (for example a refused Unix socket connect).
func (dc DialConfig) Dial(network, address string) (*Socket, error) {
	if isPacketNetwork(network) {
		return nil, fmt.Errorf("evsel: Dial: %q is a datagram network (use DialPacket)", network)
	}
	s, to, err := openFirst(network, address)
	if err != nil {
		return nil, err
	}
	if err := dc.prepare(s, to, s.BindSource); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Connect(to); err != nil && !errors.Is(err, ErrInProgress) {
		s.Close()
		return nil, err
	}
	return s, nil
}

// DialPacket resolves address and returns a connected datagram socket:
// it sends to that address alone (Write, or SendTo with the zero address)
// and receives only from it. A datagram connect completes at once. For
// "unixgram" without LocalAddr the socket stays unnamed, so the peer
// cannot answer it.
func (dc DialConfig) DialPacket(network, address string) (*Socket, error) {
	if !isPacketNetwork(network) {
		return nil, fmt.Errorf("evsel: DialPacket: unsupported network %q", network)
	}
	s, to, err := openFirst(network, address)
	if err != nil {
		return nil, err
	}
	if err := dc.prepare(s, to, s.Bind); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Connect(to); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// prepare runs Control for s, about to connect to remote, then binds it to
// LocalAddr with bind.
func (dc DialConfig) prepare(s *Socket, remote net.Addr, bind func(net.Addr) error) error {
	if err := RunControl(dc.Control, s, remote); err != nil {
		return err
	}
	if dc.LocalAddr != nil {
		return bind(dc.LocalAddr)
	}
	return nil
}
