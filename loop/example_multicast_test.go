package loop_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/loop"
)

// Multicast on the engine: sockets made with evsel's calls, set up for the
// group, and served with ServePacket. The member joins the group on an
// interface; the sender chooses the interface its datagrams leave by, and
// here a TTL of 0, which keeps them on this host, where loopback delivers
// them to the member. The member answers each datagram to its sender,
// unicast. (Not run as a test: it needs an interface with multicast.)
func ExampleEngine_ServePacket_multicast() {
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		panic(err)
	}
	group := netip.MustParseAddr("239.255.42.99")
	e, err := loop.New(loop.Funcs{}, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	ms, err := evsel.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		panic(err)
	}
	if err := ms.JoinGroup(ifi, group); err != nil {
		panic(err)
	}
	member, err := e.ServePacket(ms, loop.PacketFunc(func(pc *loop.PacketConn, data []byte, from loop.PacketAddr) {
		pc.WriteTo(append([]byte("member got "), data...), from)
	}))
	if err != nil {
		panic(err)
	}
	port := uint16(member.LocalAddr().(*net.UDPAddr).Port)

	ss, err := evsel.ListenPacket("udp4", "0.0.0.0:0") // any port
	if err != nil {
		panic(err)
	}
	if err := ss.SetMulticastInterface(ifi); err != nil {
		panic(err)
	}
	if err := ss.SetMulticastTTL(0); err != nil {
		panic(err)
	}
	replies := make(chan string, 1)
	sender, err := e.ServePacket(ss, loop.PacketFunc(func(pc *loop.PacketConn, data []byte, from loop.PacketAddr) {
		select {
		case replies <- string(data):
		default:
		}
	}))
	if err != nil {
		panic(err)
	}
	to := loop.PacketAddr{AddrPort: netip.AddrPortFrom(group, port)}
	if err := sender.AsyncWriteTo([]byte("hello, group"), to); err != nil {
		panic(err)
	}
	select {
	case r := <-replies:
		fmt.Println(r)
	case <-time.After(5 * time.Second):
		fmt.Println("no reply")
	}
}
