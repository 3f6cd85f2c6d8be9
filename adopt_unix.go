//go:build unix

package evsel

import (
	"os"

	"golang.org/x/sys/unix"
)

func socketFromFD(fd uintptr) (*Socket, error) {
	ifd := int(fd)
	typ, err := unix.GetsockoptInt(ifd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		if err == unix.ENOTSOCK {
			return nil, ErrNotStream
		}
		return nil, wrapErr("getsockopt", err)
	}
	if typ != unix.SOCK_STREAM && typ != unix.SOCK_DGRAM {
		return nil, ErrNotStream
	}
	if err := unix.SetNonblock(ifd, true); err != nil {
		return nil, wrapErr("setnonblock", err)
	}
	unix.CloseOnExec(ifd)
	return &Socket{fdPlusOne: ifd + 1}, nil
}

func dupSocket(fd uintptr) (*Socket, error) {
	// F_DUPFD_CLOEXEC creates the copy close-on-exec in one step, so a
	// concurrent fork cannot inherit it.
	nfd, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, wrapErr("dup", err)
	}
	s, err := socketFromFD(uintptr(nfd))
	if err != nil {
		unix.Close(nfd)
		return nil, err
	}
	return s, nil
}

// Listening reports whether the socket accepts connections (SO_ACCEPTCONN).
func (s *Socket) Listening() bool {
	if s.ok() != nil {
		return false
	}
	v, err := unix.GetsockoptInt(s.fd(), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && v != 0
}

// File returns a duplicate of the socket's descriptor as an *os.File, to
// hand it to another process (exec.Cmd.ExtraFiles) or to the net package
// (net.FileListener, net.FileConn). The copy shares the socket, including
// its non-blocking mode; closing one leaves the other open.
func (s *Socket) File() (*os.File, error) {
	if err := s.ok(); err != nil {
		return nil, err
	}
	nfd, err := unix.FcntlInt(uintptr(s.fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, wrapErr("dup", err)
	}
	return os.NewFile(uintptr(nfd), "evsel-socket"), nil
}
