//go:build windows

package evsel

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Winsock's datagram calls: synchronous WSARecvFrom and WSASendTo on the
// non-blocking socket, through raw procedures so that WSAEWOULDBLOCK is
// not boxed anew (see syscall_windows.go). Windows has no batched
// datagram calls (and no Unix datagram sockets).

var (
	procWSARecvFrom = modws2_32.NewProc("WSARecvFrom")
	procWSASendTo   = modws2_32.NewProc("WSASendTo")
)

const (
	sockDgram         = windows.SOCK_DGRAM
	soBroadcast       = windows.SO_BROADCAST
	unixgramSupported = false

	ipAddMembership  = windows.IP_ADD_MEMBERSHIP
	ipDropMembership = windows.IP_DROP_MEMBERSHIP
	ipv6JoinGroup    = windows.IPV6_JOIN_GROUP
	ipv6LeaveGroup   = windows.IPV6_LEAVE_GROUP

	ipprotoIP         = windows.IPPROTO_IP
	ipMulticastIf     = windows.IP_MULTICAST_IF
	ipMulticastTTL    = windows.IP_MULTICAST_TTL
	ipMulticastLoop   = windows.IP_MULTICAST_LOOP
	ipv6MulticastIf   = windows.IPV6_MULTICAST_IF
	ipv6MulticastHops = windows.IPV6_MULTICAST_HOPS
	ipv6MulticastLoop = windows.IPV6_MULTICAST_LOOP
)

// sysDatagramSetup turns off SIO_UDP_CONNRESET: otherwise an ICMP "port
// unreachable" for any datagram this socket sent fails its next receive
// with WSAECONNRESET, which on a server is another client's business. It
// is best effort: a system without the ioctl (some Wine versions) leaves
// the receive errors on, which the engine reports and survives.
func sysDatagramSetup(fd int) error {
	off := uint32(0)
	var ret uint32
	_ = windows.WSAIoctl(windows.Handle(fd), windows.SIO_UDP_CONNRESET,
		(*byte)(unsafe.Pointer(&off)), uint32(unsafe.Sizeof(off)), nil, 0, &ret, nil, 0)
	return nil
}

func wsaBufOf(p []byte) windows.WSABuf {
	b := windows.WSABuf{Len: uint32(clampLen(len(p)))}
	if len(p) > 0 {
		b.Buf = &p[0]
	}
	return b
}

func sysRecvFrom(fd int, p []byte) (int, netip.AddrPort, RecvFlags, error) {
	var name rawInet
	nameLen := sizeofInet6
	n, flags, errno := wsaRecvFrom(fd, p, unsafe.Pointer(&name), &nameLen)
	if errno != 0 {
		return 0, netip.AddrPort{}, 0, errnoError(errno)
	}
	return n, name.get(), flags, nil
}

// wsaRecvFrom receives one datagram; a datagram longer than p is
// WSAEMSGSIZE with p filled, which is a truncated datagram, not an error.
func wsaRecvFrom(fd int, p []byte, name unsafe.Pointer, nameLen *int32) (int, RecvFlags, windows.Errno) {
	buf := wsaBufOf(p)
	var got, flags uint32
	r, _, e := syscall.SyscallN(procWSARecvFrom.Addr(), uintptr(fd), uintptr(unsafe.Pointer(&buf)), 1,
		uintptr(unsafe.Pointer(&got)), uintptr(unsafe.Pointer(&flags)), uintptr(name), uintptr(unsafe.Pointer(nameLen)), 0, 0)
	if int32(r) == socketError {
		if e == windows.WSAEMSGSIZE {
			return len(p), Truncated, 0
		}
		return 0, 0, e
	}
	var rf RecvFlags
	if flags&windows.MSG_TRUNC != 0 {
		rf = Truncated
	}
	return int(got), rf, 0
}

func sysSendTo(fd int, p []byte, to netip.AddrPort) (int, error) {
	if !to.IsValid() {
		n, errno := wsaSendTo(fd, p, nil, 0)
		return n, errnoError(errno)
	}
	ip := to.Addr()
	if ip.Is4In6() {
		to = netip.AddrPortFrom(ip.Unmap(), to.Port())
	}
	var name rawInet
	l := name.put(to, false)
	n, errno := wsaSendTo(fd, p, unsafe.Pointer(&name), l)
	if errno == windows.WSAEFAULT || errno == windows.WSAEAFNOSUPPORT || errno == windows.WSAEINVAL {
		if to.Addr().Is4() { // an IPv6 socket: send it IPv4-mapped
			l = name.put(to, true)
			n, errno = wsaSendTo(fd, p, unsafe.Pointer(&name), l)
		}
	}
	return n, errnoError(errno)
}

func wsaSendTo(fd int, p []byte, name unsafe.Pointer, nameLen int32) (int, windows.Errno) {
	buf := wsaBufOf(p)
	var sent uint32
	r, _, e := syscall.SyscallN(procWSASendTo.Addr(), uintptr(fd), uintptr(unsafe.Pointer(&buf)), 1,
		uintptr(unsafe.Pointer(&sent)), 0, uintptr(name), uintptr(nameLen), 0, 0)
	if int32(r) == socketError {
		return 0, e
	}
	return int(sent), 0
}

func sysRecvFromPath(int, []byte) (int, string, RecvFlags, error) {
	return 0, "", 0, windows.WSAEAFNOSUPPORT
}

func sysSendToPath(int, []byte, string) (int, error) { return 0, windows.WSAEAFNOSUPPORT }

// sysWritableNow is never asked on Windows: it has no Unix datagram
// sockets, so SendToPath fails before.
func sysWritableNow(int) bool { return false }

// batchState: nothing to keep where every datagram is its own call.
type batchState struct{}

func newBatchState(int) batchState { return batchState{} }

func (*batchState) recv(fd int, msgs []Message) (int, error) { return recvOne(fd, msgs) }
func (*batchState) send(fd int, msgs []Message) (int, error) { return sendEach(fd, msgs) }

// sysMembership4 and sysMembership6 set a multicast membership option;
// Socket.membership chooses which.
func sysMembership4(fd, opt int, group, iface [4]byte) error {
	return windows.SetsockoptIPMreq(windows.Handle(fd), windows.IPPROTO_IP, opt, &windows.IPMreq{Multiaddr: group, Interface: iface})
}

func sysMembership6(fd, opt int, group [16]byte, iface uint32) error {
	return windows.SetsockoptIPv6Mreq(windows.Handle(fd), windows.IPPROTO_IPV6, opt, &windows.IPv6Mreq{Multiaddr: group, Interface: iface})
}

func sysSetsockoptInet4Addr(fd, level, opt int, a [4]byte) error {
	return windows.SetsockoptInet4Addr(windows.Handle(fd), level, opt, a)
}

// sysSetMulticast4 sets IPv4's multicast TTL or loopback, a DWORD here.
func sysSetMulticast4(fd, opt, v int) error { return sysSetsockoptInt(fd, ipprotoIP, opt, v) }
