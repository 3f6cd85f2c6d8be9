//go:build unix

package evsel

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

const (
	sockDgram         = unix.SOCK_DGRAM
	soType            = unix.SO_TYPE
	soBroadcast       = unix.SO_BROADCAST
	unixgramSupported = true
)

// sysDatagramSetup prepares a new datagram socket: nothing on unix.
func sysDatagramSetup(int) error { return nil }

func sysMembership(fd int, ifi *net.Interface, group netip.Addr, join bool) error {
	if group.Is4() {
		mreq := &unix.IPMreq{Multiaddr: group.As4()}
		if ifi != nil {
			mreq.Interface = ifaceAddr4(ifi)
		}
		opt := unix.IP_ADD_MEMBERSHIP
		if !join {
			opt = unix.IP_DROP_MEMBERSHIP
		}
		return unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, opt, mreq)
	}
	mreq := &unix.IPv6Mreq{Multiaddr: group.As16()}
	if ifi != nil {
		mreq.Interface = uint32(ifi.Index)
	}
	opt := unix.IPV6_JOIN_GROUP
	if !join {
		opt = unix.IPV6_LEAVE_GROUP
	}
	return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, opt, mreq)
}
