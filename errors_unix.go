//go:build unix

package evsel

import (
	"os"
	"syscall"
)

// ErrWouldBlock is returned, unwrapped, by non-blocking operations that
// cannot proceed now (EAGAIN). Compare with == or errors.Is.
var ErrWouldBlock error = syscall.EAGAIN

// errEINTR is the error of an interrupted system call, which ignoringEINTR
// retries.
const errEINTR = syscall.EINTR

// wrapErr names the failed operation while keeping the errno reachable via
// errors.Is. EAGAIN stays bare: it is control flow on the hot path, not a
// failure, and wrapping it would allocate.
func wrapErr(op string, err error) error {
	if err == nil || err == syscall.EAGAIN {
		return err
	}
	return os.NewSyscallError(op, err)
}
