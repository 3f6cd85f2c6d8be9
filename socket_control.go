package evsel

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// SyscallConn gives a function of net's kind (net.ListenConfig.Control,
// net.Dialer.Control) the socket's descriptor: its Control runs the
// function at once. Its Read and Write fail: a Socket's I/O is its own
// methods', and the descriptor is non-blocking with no poller behind a
// RawConn to wait on. Do not close the descriptor.
func (s *Socket) SyscallConn() (syscall.RawConn, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	return (*socketRawConn)(s), nil
}

type socketRawConn Socket

var errRawConnIO = fmt.Errorf("evsel: a Socket's RawConn only runs Control: %w", errors.ErrUnsupported)

func (rc *socketRawConn) Control(f func(fd uintptr)) error {
	s := (*Socket)(rc)
	if err := s.ok(); err != nil {
		return err
	}
	f(s.Fd())
	return nil
}

func (rc *socketRawConn) Read(func(fd uintptr) bool) error  { return errRawConnIO }
func (rc *socketRawConn) Write(func(fd uintptr) bool) error { return errRawConnIO }

// ControlFunc is the type of ListenConfig.Control, and of the engine's
// hooks built on it: net.ListenConfig's and net.Dialer's Control, so that
// one written for Go's net (SO_BINDTODEVICE, SO_MARK, IP_TRANSPARENT,
// IP_TOS...) works unchanged.
type ControlFunc func(network, address string, c syscall.RawConn) error

// RunControl calls fn, if not nil, for s about to be bound to or connected
// to addr, with the arguments Go's net gives its Control: the network
// named by family and kind ("tcp4", "tcp6", "udp4", "udp6", "unix",
// "unixgram") and addr's string form.
func RunControl(fn ControlFunc, s *Socket, addr net.Addr) error {
	if fn == nil {
		return nil
	}
	rc, err := s.SyscallConn()
	if err != nil {
		return err
	}
	return fn(controlNetwork(s, addr), addr.String(), rc)
}

// controlNetwork is the network name Go's net passes to Control for a
// socket of s's family and kind.
func controlNetwork(s *Socket, addr net.Addr) string {
	datagram := s.IsDatagram()
	switch a := addr.(type) {
	case *net.UnixAddr:
		if datagram {
			return "unixgram"
		}
		return "unix"
	case *net.TCPAddr, *net.UDPAddr:
		proto := "tcp"
		if datagram {
			proto = "udp"
		}
		if s.Family() == IPv4 {
			return proto + "4"
		}
		return proto + "6"
	default:
		return a.Network()
	}
}
