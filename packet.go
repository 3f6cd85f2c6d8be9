package evsel

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// RecvFlags describe a received datagram.
type RecvFlags uint8

const (
	// Truncated means the datagram was longer than the buffer and its tail
	// was discarded (MSG_TRUNC; WSAEMSGSIZE on Windows). The count returned
	// is the bytes that were kept.
	Truncated RecvFlags = 1 << iota
)

// Message is one datagram of a batched receive or send (Socket.RecvBatch,
// Socket.SendBatch).
type Message struct {
	// Buf is the datagram to send, or the buffer to receive into.
	Buf []byte
	// N is the length received, or sent.
	N int
	// Addr is the destination of a send (the zero value on a connected
	// socket) or the source of a received datagram.
	Addr netip.AddrPort
	// Flags describe a received datagram.
	Flags RecvFlags
}

// Batch is a set of messages and the system scratch that sends or receives
// them with one system call where there is one (recvmmsg and sendmmsg on
// Linux), so a batch allocates nothing per call. A Batch belongs to one
// goroutine at a time.
type Batch struct {
	// Msgs are the messages; RecvBatch fills them from the first,
	// SendBatch sends them from the first.
	Msgs []Message
	sys  batchState
}

// NewBatch returns a batch of n messages without buffers.
func NewBatch(n int) *Batch {
	return &Batch{Msgs: make([]Message, n), sys: newBatchState(n)}
}

// ListenPacket is ListenConfig{}.ListenPacket.
func ListenPacket(network, address string) (*Socket, error) {
	return ListenConfig{}.ListenPacket(network, address)
}

// ListenPacket resolves address and returns a non-blocking datagram socket
// bound to its first address. Network is "udp", "udp4", "udp6" or
// "unixgram" (address is then a path; Unix datagram sockets are not
// available on Windows). ReusePort, NoReuseAddr and DualStack apply as for
// Listen; Backlog is ignored.
func (lc ListenConfig) ListenPacket(network, address string) (*Socket, error) {
	if !isPacketNetwork(network) {
		return nil, fmt.Errorf("evsel: ListenPacket: unsupported network %q", network)
	}
	if lc.DualStack && network == "udp" {
		if s, done, err := lc.listenDualStack(network, address); done {
			return s, err
		}
	}
	s, at, err := openFirst(network, address)
	if err != nil {
		return nil, err
	}
	v6Only(s)
	if err := lc.bind(s, at); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// DialPacket is DialConfig{}.DialPacket.
func DialPacket(network, address string) (*Socket, error) {
	return DialConfig{}.DialPacket(network, address)
}

func isPacketNetwork(network string) bool {
	switch network {
	case "udp", "udp4", "udp6", "unixgram":
		return true
	}
	return false
}

// resolvePacket is Resolve for the datagram networks: the stream answer,
// with UDP's address types.
func resolvePacket(network, address string) ([]net.Addr, error) {
	if network == "unixgram" {
		return []net.Addr{&net.UnixAddr{Name: address, Net: "unixgram"}}, nil
	}
	addrs, err := Resolve("tcp"+strings.TrimPrefix(network, "udp"), address)
	if err != nil {
		return nil, err
	}
	for i, a := range addrs {
		t := a.(*net.TCPAddr)
		addrs[i] = &net.UDPAddr{IP: t.IP, Port: t.Port, Zone: t.Zone}
	}
	return addrs, nil
}

// AddrPortOf returns the IP address and port of a *net.UDPAddr or
// *net.TCPAddr (the zero value for anything else), IPv4 addresses
// unmapped.
func AddrPortOf(a net.Addr) netip.AddrPort {
	var ip net.IP
	var port int
	var zone string
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, port, zone = a.IP, a.Port, a.Zone
	case *net.TCPAddr:
		ip, port, zone = a.IP, a.Port, a.Zone
	default:
		return netip.AddrPort{}
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}
	}
	addr = addr.Unmap()
	if zone != "" && addr.Is6() {
		addr = addr.WithZone(zone)
	}
	return netip.AddrPortFrom(addr, uint16(port))
}
