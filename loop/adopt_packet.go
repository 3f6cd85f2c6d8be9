package loop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/evsel/evsel"
)

// Adopting datagram sockets: the packet API's counterpart of ServeListener,
// ServeFile and ServeFD, with the same rule that the caller's socket is
// let go of only once the engine serves its duplicate.

// ServePacketConn serves pc, a datagram socket made elsewhere
// (net.ListenUDP, net.ListenPacket, a "unixgram" *net.UnixConn), with h on
// one of the loops, as ListenPacket serves its own. On success pc is
// closed and the engine serves a duplicate; on error pc is left as it was
// (but non-blocking). pc must expose its descriptor (syscall.Conn).
func (e *Engine) ServePacketConn(pc net.PacketConn, h PacketHandler) (*PacketConn, error) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("loop: ServePacketConn: %T has no descriptor", pc)
	}
	p, err := e.servePacketSocket(func() (*evsel.Socket, error) { return dupOf(sc) }, h)
	if err != nil {
		return nil, err
	}
	pc.Close()
	return p, nil
}

// ServePacketFile serves the datagram socket f refers to (inherited, or
// from net.UDPConn.File) with h; on success f is closed.
func (e *Engine) ServePacketFile(f *os.File, h PacketHandler) (*PacketConn, error) {
	p, err := e.servePacketSocket(func() (*evsel.Socket, error) { return dupOf(f) }, h)
	if err != nil {
		return nil, err
	}
	f.Close()
	return p, nil
}

// ServePacketFD serves the datagram socket whose descriptor is fd with h.
// On success the engine owns fd (it serves a duplicate and closes fd); on
// error fd is left open, the caller's.
func (e *Engine) ServePacketFD(fd uintptr, h PacketHandler) (*PacketConn, error) {
	p, err := e.servePacketSocket(func() (*evsel.Socket, error) { return evsel.DupSocket(fd) }, h)
	if err != nil {
		return nil, err
	}
	os.NewFile(fd, "").Close()
	return p, nil
}

// errNotDatagram is the refusal of a stream socket by the packet API.
var errNotDatagram = errors.New("loop: not a datagram socket (a listener is served by ServeListener, ServeFile or ServeFD)")

func (e *Engine) servePacketSocket(dup func() (*evsel.Socket, error), h PacketHandler) (*PacketConn, error) {
	if h == nil {
		return nil, errNoPacketHandler // before taking a duplicate
	}
	s, err := dup()
	if err != nil {
		return nil, err
	}
	if !s.IsDatagram() {
		s.Close()
		return nil, errNotDatagram
	}
	p, err := e.ServePacket(s, h)
	if err != nil {
		s.Close()
		return nil, err
	}
	return p, nil
}
