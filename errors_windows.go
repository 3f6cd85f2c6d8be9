//go:build windows

package evsel

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// The errnos the portable code tests for: the Winsock ones that stand for
// the unix names.
const (
	errEINTR       = windows.WSAEINTR // an interrupted blocking call; retried by ignoringEINTR
	errWouldBlock  = windows.WSAEWOULDBLOCK
	errInProgress  = windows.WSAEINPROGRESS
	errAlready     = windows.WSAEALREADY
	errNotConn     = windows.WSAENOTCONN
	errConnAborted = windows.WSAECONNABORTED
	errInval       = windows.WSAEINVAL
	errAFNoSupport = windows.WSAEAFNOSUPPORT
)

// wrapErr names the failed operation while keeping the errno reachable via
// errors.Is and errors.As. WSAEWOULDBLOCK stays bare: it is control flow on
// the hot path, not a failure, and wrapping it would allocate.
//
// A Winsock errno is wrapped so that errors.Is also matches the POSIX name
// package syscall gives the same condition (syscall.ECONNRESET for
// WSAECONNRESET, ...): code written against the unix errors keeps working.
// errors.Is(err, windows.WSAECONNRESET) and errors.As(err, &syscall.Errno)
// work as well.
func wrapErr(op string, err error) error {
	if err == nil || err == ErrWouldBlock {
		return err
	}
	if e, ok := err.(syscall.Errno); ok {
		if _, ok := posixErrno[e]; ok || e == windows.WSAEOPNOTSUPP {
			err = wsaError{e}
		}
	}
	return os.NewSyscallError(op, err)
}

// errnoErr turns a raw Winsock or Win32 error number into an error without
// allocating for the values that are control flow (WSAEWOULDBLOCK).
func errnoErr(op string, e windows.Errno) error { return wrapErr(op, errnoError(e)) }

// errnoError is errnoErr without the operation's name, for the system call
// wrappers: the error of a raw error number, nil for 0, and the
// preallocated ErrWouldBlock for WSAEWOULDBLOCK, which boxing would
// allocate on every call that finds a socket not ready.
func errnoError(e windows.Errno) error {
	switch e {
	case 0:
		return nil
	case windows.WSAEWOULDBLOCK:
		return ErrWouldBlock
	}
	return e
}

// wsaError is a Winsock errno that also answers to its POSIX name.
type wsaError struct{ errno syscall.Errno }

func (e wsaError) Error() string { return e.errno.Error() }
func (e wsaError) Unwrap() error { return e.errno }

func (e wsaError) Is(target error) bool {
	if target == errors.ErrUnsupported {
		return e.errno == windows.WSAEOPNOTSUPP
	}
	t, ok := target.(syscall.Errno)
	if !ok {
		return false
	}
	if t == posixErrno[e.errno] {
		return true
	}
	// Writing after a shutdown is EPIPE on unix.
	return e.errno == windows.WSAESHUTDOWN && t == syscall.EPIPE
}

// Timeout reports a timed-out connection, as syscall.Errno does on unix.
func (e wsaError) Timeout() bool { return e.errno == windows.WSAETIMEDOUT }

// posixErrno maps Winsock errnos to the POSIX-named ones of package syscall,
// which on Windows are values of their own.
var posixErrno = map[syscall.Errno]syscall.Errno{
	windows.WSAEINTR:           syscall.EINTR,
	windows.WSAEBADF:           syscall.EBADF,
	windows.WSAEACCES:          syscall.EACCES,
	windows.WSAEFAULT:          syscall.EFAULT,
	windows.WSAEINVAL:          syscall.EINVAL,
	windows.WSAEMFILE:          syscall.EMFILE,
	windows.WSAEINPROGRESS:     syscall.EINPROGRESS,
	windows.WSAEALREADY:        syscall.EALREADY,
	windows.WSAENOTSOCK:        syscall.ENOTSOCK,
	windows.WSAEDESTADDRREQ:    syscall.EDESTADDRREQ,
	windows.WSAEMSGSIZE:        syscall.EMSGSIZE,
	windows.WSAEPROTOTYPE:      syscall.EPROTOTYPE,
	windows.WSAENOPROTOOPT:     syscall.ENOPROTOOPT,
	windows.WSAEPROTONOSUPPORT: syscall.EPROTONOSUPPORT,
	windows.WSAEOPNOTSUPP:      syscall.EOPNOTSUPP,
	windows.WSAEAFNOSUPPORT:    syscall.EAFNOSUPPORT,
	windows.WSAEADDRINUSE:      syscall.EADDRINUSE,
	windows.WSAEADDRNOTAVAIL:   syscall.EADDRNOTAVAIL,
	windows.WSAENETDOWN:        syscall.ENETDOWN,
	windows.WSAENETUNREACH:     syscall.ENETUNREACH,
	windows.WSAENETRESET:       syscall.ENETRESET,
	windows.WSAECONNABORTED:    syscall.ECONNABORTED,
	windows.WSAECONNRESET:      syscall.ECONNRESET,
	windows.WSAENOBUFS:         syscall.ENOBUFS,
	windows.WSAEISCONN:         syscall.EISCONN,
	windows.WSAENOTCONN:        syscall.ENOTCONN,
	windows.WSAESHUTDOWN:       syscall.ESHUTDOWN,
	windows.WSAETIMEDOUT:       syscall.ETIMEDOUT,
	windows.WSAECONNREFUSED:    syscall.ECONNREFUSED,
	windows.WSAEHOSTDOWN:       syscall.EHOSTDOWN,
	windows.WSAEHOSTUNREACH:    syscall.EHOSTUNREACH,
}
