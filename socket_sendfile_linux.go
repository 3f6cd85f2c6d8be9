package evsel

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysSendFile is sendfile(2), made the usual way (entersyscall), unlike
// the Try calls: reading the file may block on the disk, and then the
// runtime should hand the loop's P to another thread.
func sysSendFile(s *Socket, file uintptr, off int64, n int) (int, error) {
	w, err := unix.Sendfile(s.fd(), int(file), &off, n)
	switch err {
	case nil, syscall.EAGAIN:
		return w, err
	case syscall.EINVAL, syscall.ENOSYS, syscall.EOPNOTSUPP:
		// A descriptor sendfile cannot read from (not mmap-able, such as
		// a pipe or a socket), or no sendfile at all (seccomp).
		return 0, unsupported(err)
	}
	return w, err
}

func unsupported(err error) error {
	return fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
}
