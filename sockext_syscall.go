//go:build linux || freebsd || netbsd || dragonfly

package evsel

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The keep-alive options, all three tunable here.
const (
	tcpKeepIdle  = unix.TCP_KEEPIDLE
	tcpKeepIntvl = unix.TCP_KEEPINTVL
	tcpKeepCnt   = unix.TCP_KEEPCNT
)

// addrPort asks the kernel for the socket's address with the raw system
// call, decoding the sockaddr from the stack, so nothing is allocated.
func (s *Socket) addrPort(peer bool) (netip.AddrPort, error) {
	trap := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		trap = unix.SYS_GETPEERNAME
	}
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	_, _, e := unix.RawSyscall(trap, uintptr(s.fd()), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	switch e {
	case 0:
		return rawAddrPort(&rsa), nil
	case unix.ENOSYS:
		// A kernel with only socketcall(2) for these (Linux before 4.3
		// on 386 and s390x).
		return s.addrPortAlloc(peer)
	}
	return netip.AddrPort{}, wrapErr(sockNameOp(peer), e)
}
