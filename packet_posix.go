//go:build unix || windows

package evsel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// The datagram half of Socket. Datagram sockets are Sockets too — Bind,
// Connect, Close, the options and the poller work on them as on stream
// sockets — with the calls a datagram needs: SendTo and RecvFrom with a
// netip.AddrPort (no allocation per datagram), their Unix path variants,
// and batches. The system calls beneath are in packet_linux.go (raw
// recvmsg/sendmsg and recvmmsg/sendmmsg), packet_bsd.go (x/sys's calls)
// and packet_windows.go (WSARecvFrom/WSASendTo).

// NewDatagramSocket returns a new non-blocking, close-on-exec (on Windows
// non-inheritable) datagram socket: UDP for IPv4 and IPv6, a Unix datagram
// socket for Unix (not available on Windows).
func NewDatagramSocket(family Family) (*Socket, error) {
	af := sockFamily(family)
	if af < 0 || (family == Unix && !unixgramSupported) {
		return nil, wrapErr("socket", errAFNoSupport)
	}
	fd, err := sysSocket(af, sockDgram, 0)
	if err != nil {
		return nil, wrapErr("socket", err)
	}
	if err := sysDatagramSetup(fd); err != nil {
		sysClose(fd)
		return nil, wrapErr("socket", err)
	}
	return &Socket{fdPlusOne: fd + 1, sys: newSockState(family)}, nil
}

// SendTo sends p as one datagram to addr, or to the connected peer when
// addr is the zero netip.AddrPort. An IPv4 address is sent as IPv4-mapped
// from an IPv6 socket. It returns ErrWouldBlock when the send buffer is
// full; a datagram is never sent in part.
func (s *Socket) SendTo(p []byte, addr netip.AddrPort) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return sysSendTo(s.fd(), p, addr) })
	if err != nil {
		return 0, wrapErr("sendto", err)
	}
	return n, nil
}

// RecvFrom receives one datagram into p and returns its length, its
// sender and Truncated if it did not fit (the tail is lost). It returns
// ErrWouldBlock when none is queued. An empty datagram is a count of 0 and
// no error: datagram sockets have no end of file. A link-local sender's
// zone is its interface's name, as Go's net and LocalAddrPort give it
// (zone.go). On Linux and Windows it allocates nothing; elsewhere x/sys
// builds the sender's address.
func (s *Socket) RecvFrom(p []byte) (int, netip.AddrPort, RecvFlags, error) {
	if err := s.ok(); err != nil {
		return 0, netip.AddrPort{}, 0, err
	}
	var (
		from  netip.AddrPort
		flags RecvFlags
	)
	n, err := ignoringEINTR(func() (int, error) {
		n, f, fl, err := sysRecvFrom(s.fd(), p)
		from, flags = f, fl
		return n, err
	})
	if err != nil {
		return 0, netip.AddrPort{}, 0, wrapErr("recvfrom", err)
	}
	return n, from, flags, nil
}

// ErrReceiverFull is what SendToPath returns, unwrapped, instead of
// ErrWouldBlock when p could not go because the receiver bound at path
// has its queue full, while this socket itself has room. Waiting for the
// socket to become writable would not help: it already is, for every
// other receiver. A datagram sender drops p, as UDP would.
//
// It is Linux's case (the BSDs answer ENOBUFS), and only while the
// sender's buffer has room: Linux charges the datagrams a receiver has
// not read to their sender, and a socket is writable while that charge is
// under a quarter of its send buffer. So a receiver whose queue holds
// more than that (net.unix.max_dgram_qlen is 10 in a new network
// namespace, 512 on many hosts), or one that connected to the sender,
// which lifts the queue's limit, fills the sender's buffer instead: then
// every send gets ErrWouldBlock, and the socket is not writable, until
// that receiver reads or closes.
var ErrReceiverFull = errors.New("evsel: the receiving datagram socket's queue is full")

// SendToPath is SendTo for a Unix datagram socket: it sends p to the
// socket bound at path (a leading '@' names Linux's abstract namespace),
// or to the connected peer when path is "". Sending to a path whose
// socket does not read, on a non-blocking socket, fails with
// ErrReceiverFull once that socket's queue is full (see there).
func (s *Socket) SendToPath(p []byte, path string) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	n, err := ignoringEINTR(func() (int, error) { return sysSendToPath(s.fd(), p, path) })
	if err == errWouldBlock && path != "" && sysWritableNow(s.fd()) {
		// An unconnected Unix datagram socket is writable while its own
		// send buffer has room (a connected one asks its peer's queue
		// too): EAGAIN while writable is the receiver's full queue.
		return 0, ErrReceiverFull
	}
	if err != nil {
		return 0, wrapErr("sendto", err)
	}
	return n, nil
}

// RecvFromPath is RecvFrom for a Unix datagram socket: the sender is the
// path it is bound to, "" for an unnamed socket. A named sender's path is
// a new string each time.
func (s *Socket) RecvFromPath(p []byte) (int, string, RecvFlags, error) {
	if err := s.ok(); err != nil {
		return 0, "", 0, err
	}
	var (
		from  string
		flags RecvFlags
	)
	n, err := ignoringEINTR(func() (int, error) {
		n, f, fl, err := sysRecvFromPath(s.fd(), p)
		from, flags = f, fl
		return n, err
	})
	if err != nil {
		return 0, "", 0, wrapErr("recvfrom", err)
	}
	return n, from, flags, nil
}

// RecvBatch receives up to len(b.Msgs) datagrams, filling each message's
// N, Addr and Flags, and returns how many came: with one recvmmsg on
// Linux, elsewhere one datagram per call. It returns ErrWouldBlock when
// none is queued: on Linux it does not wait even on a socket in blocking
// mode (MSG_DONTWAIT); elsewhere it relies on the socket being
// non-blocking, as every socket the package creates or adopts is. It is
// for UDP sockets; Unix datagram sockets use RecvFromPath.
func (s *Socket) RecvBatch(b *Batch) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	if len(b.Msgs) == 0 {
		return 0, nil
	}
	n, err := ignoringEINTR(func() (int, error) { return b.sys.recv(s.fd(), b.Msgs) })
	if err != nil {
		return 0, wrapErr("recvmmsg", err)
	}
	return n, nil
}

// SendBatch sends the messages of b in order, each to its Addr, and
// returns how many were sent (setting their N): with one sendmmsg on
// Linux, elsewhere one datagram per call. A short count means the send
// buffer filled; ErrWouldBlock means it was full before the first (it does
// not wait, as RecvBatch does not). An error on a later message ends the
// batch early without being returned; sending from the first unsent one
// reports it.
func (s *Socket) SendBatch(b *Batch) (int, error) {
	if err := s.ok(); err != nil {
		return 0, err
	}
	if len(b.Msgs) == 0 {
		return 0, nil
	}
	n, err := ignoringEINTR(func() (int, error) { return b.sys.send(s.fd(), b.Msgs) })
	if err != nil {
		return 0, wrapErr("sendmmsg", err)
	}
	return n, nil
}

// sendEach is SendBatch one datagram per call, for the systems without a
// batched send.
func sendEach(fd int, msgs []Message) (int, error) {
	for i := range msgs {
		n, err := sysSendTo(fd, msgs[i].Buf, msgs[i].Addr)
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		msgs[i].N = n
	}
	return len(msgs), nil
}

// recvOne is RecvBatch one datagram per call, for the systems without a
// batched receive: one datagram, so that a loop returns to its other
// sockets in between.
func recvOne(fd int, msgs []Message) (int, error) {
	n, from, flags, err := sysRecvFrom(fd, msgs[0].Buf)
	if err != nil {
		return 0, err
	}
	msgs[0].N, msgs[0].Addr, msgs[0].Flags = n, from, flags
	return 1, nil
}

// SetBroadcast sets SO_BROADCAST, which a UDP socket needs to send to a
// broadcast address.
func (s *Socket) SetBroadcast(on bool) error {
	return s.setInt(solSocket, soBroadcast, boolInt(on))
}

// JoinGroup joins the multicast group on the interface ifi (nil: the one
// the system chooses), so the socket receives the group's datagrams.
// The group's family must be the socket's.
func (s *Socket) JoinGroup(ifi *net.Interface, group netip.Addr) error {
	return s.membership(ifi, group, true)
}

// LeaveGroup leaves a group JoinGroup joined.
func (s *Socket) LeaveGroup(ifi *net.Interface, group netip.Addr) error {
	return s.membership(ifi, group, false)
}

func (s *Socket) membership(ifi *net.Interface, group netip.Addr, join bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	if !group.IsMulticast() {
		return wrapErr("setsockopt", errInval)
	}
	group = group.Unmap()
	var err error
	if group.Is4() {
		// IPv4 names the interface by an address of it, IPv6 by index.
		var iface [4]byte
		if ifi != nil {
			iface = ifaceAddr4(ifi)
		}
		opt := ipAddMembership
		if !join {
			opt = ipDropMembership
		}
		err = sysMembership4(s.fd(), opt, group.As4(), iface)
	} else {
		var iface uint32
		if ifi != nil {
			iface = uint32(ifi.Index)
		}
		opt := ipv6JoinGroup
		if !join {
			opt = ipv6LeaveGroup
		}
		err = sysMembership6(s.fd(), opt, group.As16(), iface)
	}
	return wrapErr("setsockopt", err)
}

// The options of multicast sending are set by the socket's family: an
// IPv6 socket, dual-stack included, takes IPv6's (which of them a
// dual-stack socket's datagrams to IPv4 groups follow varies by system:
// use an IPv4 socket for those).

// SetMulticastInterface sets the interface the socket's multicast
// datagrams leave by (IP_MULTICAST_IF, IPV6_MULTICAST_IF), rather than the
// one the routing table gives the group, which a host with no default
// route or several interfaces needs; nil goes back to the route. An IPv4
// socket names the interface by its first IPv4 address, which it must
// have.
func (s *Socket) SetMulticastInterface(ifi *net.Interface) error {
	if err := s.ok(); err != nil {
		return err
	}
	if s.Family() == IPv6 {
		index := 0
		if ifi != nil {
			index = ifi.Index
		}
		return s.setInt(ipprotoIPv6, ipv6MulticastIf, index)
	}
	var a [4]byte
	if ifi != nil {
		if a = ifaceAddr4(ifi); a == ([4]byte{}) {
			return fmt.Errorf("evsel: multicast interface %s has no IPv4 address", ifi.Name)
		}
	}
	return wrapErr("setsockopt", sysSetsockoptInet4Addr(s.fd(), ipprotoIP, ipMulticastIf, a))
}

// SetMulticastTTL sets how many routers the socket's multicast datagrams
// may cross (IP_MULTICAST_TTL; the hop limit, IPV6_MULTICAST_HOPS, on an
// IPv6 socket): 1, the system's default, keeps them on the local network,
// 0 on this host (where loopback, SetMulticastLoopback, still delivers
// them to its members). It must be 0 to 255.
func (s *Socket) SetMulticastTTL(ttl int) error {
	if err := s.ok(); err != nil {
		return err
	}
	if ttl < 0 || ttl > 255 {
		return wrapErr("setsockopt", errInval)
	}
	if s.Family() == IPv6 {
		return s.setInt(ipprotoIPv6, ipv6MulticastHops, ttl)
	}
	return wrapErr("setsockopt", sysSetMulticast4(s.fd(), ipMulticastTTL, ttl))
}

// SetMulticastLoopback sets whether the socket's multicast datagrams are
// also delivered to the group's members on this host, this socket
// included if it joined (IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP; on by
// default). Windows applies it on the receiving socket instead.
func (s *Socket) SetMulticastLoopback(on bool) error {
	if err := s.ok(); err != nil {
		return err
	}
	if s.Family() == IPv6 {
		return s.setInt(ipprotoIPv6, ipv6MulticastLoop, boolInt(on))
	}
	return wrapErr("setsockopt", sysSetMulticast4(s.fd(), ipMulticastLoop, boolInt(on)))
}

// ifaceAddr4 is the first IPv4 address of ifi, which is how IPv4's
// membership request names an interface.
func ifaceAddr4(ifi *net.Interface) [4]byte {
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil {
				return [4]byte(ip4)
			}
		}
	}
	return [4]byte{}
}
