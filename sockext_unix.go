//go:build unix

package evsel

import (
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// addrPortAlloc is addrPort through x/sys, which allocates the Sockaddr it
// returns: for platforms where a raw system call is not ours to make.
func (s *Socket) addrPortAlloc(peer bool) (netip.AddrPort, error) {
	var sa unix.Sockaddr
	var err error
	if peer {
		sa, err = unix.Getpeername(s.fd())
	} else {
		sa, err = unix.Getsockname(s.fd())
	}
	if err != nil {
		return netip.AddrPort{}, wrapErr(sockNameOp(peer), err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(withZone(netip.AddrFrom16(sa.Addr), sa.ZoneId), uint16(sa.Port)), nil
	}
	return netip.AddrPort{}, nil
}

// rawAddrPort decodes what getsockname or getpeername filled in.
func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch int(rsa.Addr.Family) {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), netPort(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(withZone(netip.AddrFrom16(sa.Addr), sa.Scope_id), netPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// setKeepAliveProbes sets the options whose value is not negative.
func (s *Socket) setKeepAliveProbes(idle, interval, count int) error {
	for _, o := range [...]struct{ opt, v int }{{tcpKeepIdle, idle}, {tcpKeepIntvl, interval}, {tcpKeepCnt, count}} {
		if o.v < 0 {
			continue
		}
		if o.opt < 0 {
			return wrapErr("setsockopt", errors.ErrUnsupported)
		}
		if err := s.setInt(unix.IPPROTO_TCP, o.opt, o.v); err != nil {
			return err
		}
	}
	return nil
}
