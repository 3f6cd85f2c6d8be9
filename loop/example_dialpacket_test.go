package loop_test

import (
	"context"
	"fmt"
	"time"

	"github.com/evsel/evsel/loop"
)

// A UDP client: DialPacket opens a socket connected to the server, which
// receives the server's datagrams only, and serves it with a PacketHandler
// on one of the loops. The server here is the same engine's ListenPacket
// echo. The client's handler runs on the loop, so it copies what it keeps
// (data is the loop's receive buffer); other goroutines send with
// AsyncWriteTo, to the connected peer when the address is the zero
// PacketAddr. The network may drop a datagram, so the wait is bounded.
func ExampleEngine_DialPacket() {
	e, err := loop.New(loop.Funcs{}, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	echo := loop.PacketFunc(func(pc *loop.PacketConn, data []byte, from loop.PacketAddr) {
		pc.WriteTo(data, from)
	})
	addr, err := e.ListenPacket("udp", "127.0.0.1:0", echo)
	if err != nil {
		panic(err)
	}

	replies := make(chan string, 1)
	client := loop.PacketFunc(func(pc *loop.PacketConn, data []byte, from loop.PacketAddr) {
		fmt.Println("from the server:", from.String() == addr.String())
		select {
		case replies <- string(data): // a copy
		default:
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc, err := e.DialPacket(ctx, "udp", addr.String(), client)
	if err != nil {
		panic(err)
	}
	defer pc.AsyncClose()
	if err := pc.AsyncWriteTo([]byte("ping"), loop.PacketAddr{}); err != nil {
		panic(err)
	}
	select {
	case r := <-replies:
		fmt.Printf("reply: %q\n", r)
	case <-time.After(5 * time.Second):
		fmt.Println("no reply")
	}
	// Output:
	// from the server: true
	// reply: "ping"
}
