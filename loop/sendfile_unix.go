//go:build unix

package loop

import (
	"os"

	"golang.org/x/sys/unix"
)

// dupFile is a descriptor of f's open file of the loop's own, close-on-exec,
// and its number (not from Fd, which would make a non-blocking file
// description, f's too, blocking).
func dupFile(f *os.File) (*os.File, uintptr, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, 0, err
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, 0, err
	}
	if dupErr != nil {
		return nil, 0, os.NewSyscallError("fcntl", dupErr)
	}
	return os.NewFile(uintptr(fd), f.Name()), uintptr(fd), nil
}
