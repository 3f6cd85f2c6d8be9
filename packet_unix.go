//go:build unix

package evsel

import "golang.org/x/sys/unix"

const (
	sockDgram         = unix.SOCK_DGRAM
	soType            = unix.SO_TYPE
	soBroadcast       = unix.SO_BROADCAST
	unixgramSupported = true

	ipAddMembership  = unix.IP_ADD_MEMBERSHIP
	ipDropMembership = unix.IP_DROP_MEMBERSHIP
	ipv6JoinGroup    = unix.IPV6_JOIN_GROUP
	ipv6LeaveGroup   = unix.IPV6_LEAVE_GROUP

	ipprotoIP         = unix.IPPROTO_IP
	ipMulticastIf     = unix.IP_MULTICAST_IF
	ipMulticastTTL    = unix.IP_MULTICAST_TTL
	ipMulticastLoop   = unix.IP_MULTICAST_LOOP
	ipv6MulticastIf   = unix.IPV6_MULTICAST_IF
	ipv6MulticastHops = unix.IPV6_MULTICAST_HOPS
	ipv6MulticastLoop = unix.IPV6_MULTICAST_LOOP
)

// sysWritableNow reports whether a zero-timeout poll finds fd writable.
func sysWritableNow(fd int) bool {
	revents, ok := pollNow(fd, unix.POLLOUT)
	return ok && revents&unix.POLLOUT != 0
}

// sysDatagramSetup prepares a new datagram socket: nothing on unix.
func sysDatagramSetup(int) error { return nil }

// sysMembership4 and sysMembership6 set a multicast membership option;
// Socket.membership chooses which.
func sysMembership4(fd, opt int, group, iface [4]byte) error {
	return unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, opt, &unix.IPMreq{Multiaddr: group, Interface: iface})
}

func sysMembership6(fd, opt int, group [16]byte, iface uint32) error {
	return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, opt, &unix.IPv6Mreq{Multiaddr: group, Interface: iface})
}

func sysSetsockoptInet4Addr(fd, level, opt int, a [4]byte) error {
	return unix.SetsockoptInet4Addr(fd, level, opt, a)
}
