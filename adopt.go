//go:build unix || windows

package evsel

import "errors"

// ErrNotStream is returned by SocketFromFD and DupSocket for a descriptor
// that is neither a stream nor a datagram socket (a pipe, a file, a raw or
// sequenced-packet socket), and by the engine's listener adoption for a
// datagram socket, which the packet API serves instead.
var ErrNotStream = errors.New("evsel: not a stream socket")

// IsDatagram reports whether s is a datagram socket (UDP, Unix datagram).
func (s *Socket) IsDatagram() bool {
	if s.ok() != nil {
		return false
	}
	t, err := sysGetsockoptInt(s.fd(), solSocket, soType)
	return err == nil && t == sockDgram
}

// SocketFromFD takes over fd, an open stream or datagram socket the program got from
// elsewhere (systemd, a parent process, another library), as Python's
// socket.socket(fileno=fd) does: on success the Socket owns fd and closes
// it; on error fd is left as it was, still the caller's. The descriptor is
// made non-blocking and close-on-exec.
//
// It is not supported on Windows (errors.ErrUnsupported), where a SOCKET
// from elsewhere may be bound to another completion port.
func SocketFromFD(fd uintptr) (*Socket, error) { return socketFromFD(fd) }

// DupSocket returns a Socket over a close-on-exec duplicate of fd, as
// Python's socket.fromfd does; fd itself stays the caller's, untouched,
// except that non-blocking mode, which the copies share, is switched on.
// Unsupported on Windows, as SocketFromFD.
func DupSocket(fd uintptr) (*Socket, error) { return dupSocket(fd) }
