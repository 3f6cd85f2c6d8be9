//go:build windows

package evsel

import (
	"os"

	"golang.org/x/sys/windows"
)

// ErrWouldBlock is returned, unwrapped, by non-blocking operations that
// cannot proceed now (WSAEWOULDBLOCK). Compare with == or errors.Is.
var ErrWouldBlock error = windows.WSAEWOULDBLOCK

// ErrInProgress is the error Connect returns, unwrapped, when a non-blocking
// connect has started: wait for the socket to become writable, then call
// ConnectResult. Windows itself answers such a connect with WSAEWOULDBLOCK
// (or WSAEALREADY when asked again); Connect turns both into this value so
// that portable code can test for one error.
var ErrInProgress error = windows.WSAEINPROGRESS

// wrapErr names the failed operation while keeping the errno reachable via
// errors.Is. WSAEWOULDBLOCK stays bare: it is control flow on the hot path,
// not a failure, and wrapping it would allocate.
func wrapErr(op string, err error) error {
	if err == nil || err == ErrWouldBlock {
		return err
	}
	return os.NewSyscallError(op, err)
}

// errnoErr turns a raw Winsock or Win32 error number into an error without
// allocating for the values that are control flow (WSAEWOULDBLOCK).
func errnoErr(op string, e windows.Errno) error {
	switch e {
	case 0:
		return nil
	case windows.WSAEWOULDBLOCK:
		return ErrWouldBlock
	}
	return os.NewSyscallError(op, e)
}
