//go:build unix

package evsel

import (
	"os"
	"syscall"
)

// The errnos the portable code tests for, by their unix names.
const (
	errEINTR       = syscall.EINTR // retried by ignoringEINTR
	errWouldBlock  = syscall.EAGAIN
	errInProgress  = syscall.EINPROGRESS
	errAlready     = syscall.EALREADY
	errNotConn     = syscall.ENOTCONN
	errConnAborted = syscall.ECONNABORTED
	errInval       = syscall.EINVAL
	errAFNoSupport = syscall.EAFNOSUPPORT
)

// wrapErr names the failed operation while keeping the errno reachable via
// errors.Is. EAGAIN stays bare: it is control flow on the hot path, not a
// failure, and wrapping it would allocate.
func wrapErr(op string, err error) error {
	if err == nil || err == syscall.EAGAIN {
		return err
	}
	return os.NewSyscallError(op, err)
}
