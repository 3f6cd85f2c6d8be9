package loop

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestServePacketMulticast: a member socket that joined a group and a
// sender set up for it (the interface, a TTL of 0 keeping the datagrams on
// this host), both served by the engine: the sender's datagram to the
// group reaches the member's handler, whose unicast answer reaches the
// sender's (ExampleEngine_ServePacket_multicast, checked).
func TestServePacketMulticast(t *testing.T) {
	ifi := upMulticastInterface()
	if ifi == nil {
		t.Skip("no interface up with multicast")
	}
	group := netip.MustParseAddr("239.255.42.98")
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)

	ms, err := evsel.ListenPacket("udp4", "0.0.0.0:0")
	require.NoError(t, err)
	if err := ms.JoinGroup(ifi, group); err != nil {
		ms.Close()
		t.Skipf("joining %s on %s: %v (no multicast on it here)", group, ifi.Name, err)
	}
	member, err := e.ServePacket(ms, PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		pc.WriteTo(append([]byte("member got "), data...), from)
	}))
	require.NoError(t, err)
	port := uint16(member.LocalAddr().(*net.UDPAddr).Port)

	ss, err := evsel.ListenPacket("udp4", "0.0.0.0:0") // bound: ServePacket takes bound or connected sockets
	require.NoError(t, err)
	require.NoError(t, ss.SetMulticastInterface(ifi))
	require.NoError(t, ss.SetMulticastTTL(0))
	replies := make(chan string, 4)
	sender, err := e.ServePacket(ss, PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		replies <- string(data)
	}))
	require.NoError(t, err)
	require.NoError(t, sender.AsyncWriteTo([]byte("hello, group"), PacketAddr{AddrPort: netip.AddrPortFrom(group, port)}))
	require.Equal(t, "member got hello, group", within(t, replies, 10*time.Second, "no answer from the member"))
}

// upMulticastInterface is the first interface that is up and has
// multicast, or nil.
func upMulticastInterface() *net.Interface {
	ifs, _ := net.Interfaces()
	for i := range ifs {
		if ifs[i].Flags&(net.FlagMulticast|net.FlagUp) == net.FlagMulticast|net.FlagUp {
			return &ifs[i]
		}
	}
	return nil
}
