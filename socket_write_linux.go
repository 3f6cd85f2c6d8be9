package evsel

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Write and Writev are send and sendmsg with MSG_NOSIGNAL on Linux, as the
// Try calls are: a write to a peer that has gone fails with EPIPE and
// raises no SIGPIPE, which a program that asked for the signal
// (signal.Notify) would otherwise receive. Unlike the Try calls they may
// block, on a socket switched to blocking, so the scheduler is told
// (Syscall, not RawSyscall).

func sysWrite(fd int, p []byte) (int, error) {
	r, _, e := syscall.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func sysWritev(fd int, bufs [][]byte) (int, error) {
	iov := make([]unix.Iovec, 0, min(len(bufs), maxWritevBufs))
	for _, b := range bufs {
		if len(iov) == maxWritevBufs {
			break // a short write, as the caller is told to expect
		}
		if len(b) > 0 {
			v := unix.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
	}
	if len(iov) == 0 {
		return 0, nil
	}
	msg := unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(len(iov))
	r, _, e := syscall.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_NOSIGNAL)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
