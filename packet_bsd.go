//go:build unix && !linux

package evsel

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// The datagram calls of the other unix systems, through x/sys: they take
// and return the address as a unix.Sockaddr, which is allocated, and have
// no batched forms, so a batch is one datagram per call.

func recvFlags(f int) RecvFlags {
	if f&unix.MSG_TRUNC != 0 {
		return Truncated
	}
	return 0
}

func sysRecvFrom(fd int, p []byte) (int, netip.AddrPort, RecvFlags, error) {
	n, _, fl, from, err := unix.Recvmsg(fd, p, nil, 0)
	if err != nil {
		return 0, netip.AddrPort{}, 0, err
	}
	var ap netip.AddrPort
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		// With its zone: a reply to a link-local sender needs it.
		ap = netip.AddrPortFrom(withZone(netip.AddrFrom16(sa.Addr), sa.ZoneId), uint16(sa.Port))
	}
	return n, ap, recvFlags(fl), nil
}

func sysSendTo(fd int, p []byte, to netip.AddrPort) (int, error) {
	if !to.IsValid() {
		return unix.SendmsgN(fd, p, nil, nil, 0)
	}
	ip := to.Addr()
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	var sa unix.Sockaddr
	if ip.Is4() {
		sa = &unix.SockaddrInet4{Port: int(to.Port()), Addr: ip.As4()}
	} else {
		// A link-local peer is reached through its zone's interface; an
		// unknown zone is none, as on Linux (packet_raw.go).
		sa6 := &unix.SockaddrInet6{Port: int(to.Port()), Addr: ip.As16()}
		if z := ip.Zone(); z != "" {
			sa6.ZoneId, _ = zoneIndex(z)
		}
		sa = sa6
	}
	n, err := unix.SendmsgN(fd, p, nil, sa, 0)
	if err == unix.EAFNOSUPPORT || err == unix.EINVAL {
		if ip.Is4() { // an IPv6 socket: send it IPv4-mapped
			sa = &unix.SockaddrInet6{Port: int(to.Port()), Addr: ip.As16()}
			n, err = unix.SendmsgN(fd, p, nil, sa, 0)
		}
	}
	return n, err
}

func sysRecvFromPath(fd int, p []byte) (int, string, RecvFlags, error) {
	n, _, fl, from, err := unix.Recvmsg(fd, p, nil, 0)
	if err != nil {
		return 0, "", 0, err
	}
	var path string
	if sa, ok := from.(*unix.SockaddrUnix); ok {
		path = sa.Name
	}
	return n, path, recvFlags(fl), nil
}

func sysSendToPath(fd int, p []byte, path string) (int, error) {
	if path == "" {
		return unix.SendmsgN(fd, p, nil, nil, 0)
	}
	return unix.SendmsgN(fd, p, nil, &unix.SockaddrUnix{Name: path}, 0)
}

// batchState: nothing to keep where every datagram is its own call.
type batchState struct{}

func newBatchState(int) batchState { return batchState{} }

func (*batchState) recv(fd int, msgs []Message) (int, error) { return recvOne(fd, msgs) }
func (*batchState) send(fd int, msgs []Message) (int, error) { return sendEach(fd, msgs) }
