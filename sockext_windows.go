//go:build windows

package evsel

import (
	"errors"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	procGetsockname = modws2_32.NewProc("getsockname")
	procGetpeername = modws2_32.NewProc("getpeername")
)

// addrPort calls getsockname or getpeername itself: x/sys/windows returns
// the address as an allocated Sockaddr.
func (s *Socket) addrPort(peer bool) (netip.AddrPort, error) {
	proc := procGetsockname
	if peer {
		proc = procGetpeername
	}
	var rsa windows.RawSockaddrAny
	n := int32(unsafe.Sizeof(rsa))
	r, _, e := syscall.SyscallN(proc.Addr(), uintptr(s.fd()), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if int32(r) == socketError {
		return netip.AddrPort{}, wrapErr(sockNameOp(peer), e)
	}
	switch rsa.Addr.Family {
	case windows.AF_INET:
		sa := (*windows.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), netPort(&sa.Port)), nil
	case windows.AF_INET6:
		sa := (*windows.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		return netip.AddrPortFrom(withZone(netip.AddrFrom16(sa.Addr), sa.Scope_id), netPort(&sa.Port)), nil
	}
	return netip.AddrPort{}, nil
}

// setKeepAliveProbes sets the options whose value is not negative. Windows
// has had them as socket options since Windows 10 1709; older systems
// (and Wine) only take idle time and interval together, through
// SIO_KEEPALIVE_VALS, and keep their probe count fixed.
func (s *Socket) setKeepAliveProbes(idle, interval, count int) error {
	err := s.setKeepAliveOpts(idle, interval, count)
	if !errors.Is(err, windows.WSAENOPROTOOPT) && !errors.Is(err, windows.WSAEINVAL) {
		return err
	}
	if idle < 0 && interval < 0 {
		return wrapErr("setsockopt", errors.ErrUnsupported) // only a count was asked for
	}
	// Both are set at once here: a field left alone takes Windows' default
	// (2 h idle, 1 s interval).
	if idle < 0 {
		idle = 7200
	}
	if interval < 0 {
		interval = 1
	}
	ka := windows.TCPKeepalive{OnOff: 1, Time: uint32(idle) * 1000, Interval: uint32(interval) * 1000}
	var ret uint32
	err = windows.WSAIoctl(windows.Handle(s.fd()), windows.SIO_KEEPALIVE_VALS, (*byte)(unsafe.Pointer(&ka)), uint32(unsafe.Sizeof(ka)),
		nil, 0, &ret, nil, 0)
	return wrapErr("WSAIoctl(SIO_KEEPALIVE_VALS)", err)
}

func (s *Socket) setKeepAliveOpts(idle, interval, count int) error {
	for _, o := range [...]struct{ opt, v int }{{windows.TCP_KEEPIDLE, idle}, {windows.TCP_KEEPINTVL, interval}, {windows.TCP_KEEPCNT, count}} {
		if o.v < 0 {
			continue
		}
		if err := s.setInt(windows.IPPROTO_TCP, o.opt, o.v); err != nil {
			return err
		}
	}
	return nil
}
