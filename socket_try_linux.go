package evsel

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tryFlags make a send or receive non-blocking for this call alone, and a
// send to a closed peer an EPIPE error rather than a SIGPIPE.
const (
	tryRecvFlags = unix.MSG_DONTWAIT
	trySendFlags = unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL
)

// maxTryIovec bounds one TryWritev: its iovecs live on the stack.
const maxTryIovec = 16

// The calls below use RawSyscall: with MSG_DONTWAIT they return at once, so
// the scheduler need not know of them (see socket_try.go). Pointers are
// converted to uintptr in the call's own argument list, which keeps what
// they point at alive and in place for the call (go:uintptrkeepalive). An
// Errno below 256 converts to error without allocating.

func sysTryRead(s *Socket, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(s.fd()), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), tryRecvFlags, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func sysTryWrite(s *Socket, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd()), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), trySendFlags, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func sysTryWritev(s *Socket, bufs [][]byte) (int, error) {
	var iov [maxTryIovec]unix.Iovec
	n := 0
	for _, b := range bufs {
		if n == len(iov) {
			break
		}
		if len(b) == 0 {
			continue
		}
		iov[n].Base = &b[0]
		iov[n].SetLen(len(b))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	msg := unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(n)
	r, _, e := syscall.RawSyscall(unix.SYS_SENDMSG, uintptr(s.fd()), uintptr(unsafe.Pointer(&msg)), trySendFlags)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
