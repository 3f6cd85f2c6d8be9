//go:build unix || windows

package evsel

import "errors"

// ErrNotStream is returned by SocketFromFD and DupSocket for a descriptor
// that is not a stream socket: a datagram socket, which Socket does not
// carry, or no socket at all.
var ErrNotStream = errors.New("evsel: not a stream socket")

// SocketFromFD takes over fd, an open stream socket the program got from
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
