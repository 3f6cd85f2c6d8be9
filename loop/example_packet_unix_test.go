//go:build unix

package loop_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/evsel/evsel/loop"
)

// A UDP echo server. ListenPacket serves the address with a PacketHandler,
// here a PacketFunc: it gets each datagram and its sender on the loop that
// owns the socket, and answers with WriteTo, which copies the datagram (data
// is the loop's receive buffer) and sends it once the callback returns. The
// engine's stream Handler is not used, so it may be empty. The client is Go's
// net package; the network may drop a datagram, so its read has a deadline.
// (The example is for Unix only because Go's net cannot open a UDP socket
// under Wine, which runs the Windows tests: see udppeer_test.go. The
// engine serves datagrams on Windows too.)
func ExampleEngine_ListenPacket() {
	e, err := loop.New(loop.Funcs{}, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	echo := loop.PacketFunc(func(pc *loop.PacketConn, data []byte, from loop.PacketAddr) {
		fmt.Printf("server: %q from %v\n", data, from.AddrPort.Addr()) // the port changes from run to run
		pc.WriteTo(data, from)
	})
	addr, err := e.ListenPacket("udp", "127.0.0.1:0", echo)
	if err != nil {
		panic(err)
	}

	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("hello, datagram")); err != nil {
		panic(err)
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		panic(err)
	}
	fmt.Printf("client: %q\n", buf[:n])
	// Output:
	// server: "hello, datagram" from 127.0.0.1
	// client: "hello, datagram"
}
