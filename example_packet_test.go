package evsel_test

import (
	"fmt"
	"time"

	"github.com/evsel/evsel"
)

// A datagram round trip: ListenPacket binds a UDP socket, DialPacket
// connects one to it. RecvFrom gives each datagram's sender and SendTo
// answers it; the connected socket's Write and Read talk to its peer only.
// The sockets are non-blocking, so each side waits for readiness before it
// receives, with a bound, since the network may drop a datagram.
func ExampleListenPacket() {
	server, err := evsel.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer server.Close()
	addr, _ := server.LocalAddr()
	client, err := evsel.DialPacket("udp", addr.String())
	if err != nil {
		panic(err)
	}
	defer client.Close()

	p, err := evsel.NewPoller()
	if err != nil {
		panic(err)
	}
	defer p.Close()
	events := make([]evsel.Event, 8)
	waitReadable := func(s *evsel.Socket) {
		fd := int(s.Fd())
		if err := p.Add(fd, evsel.EventRead); err != nil {
			panic(err)
		}
		defer p.Delete(fd)
		for {
			n, err := p.Wait(events, 5*time.Second)
			if err != nil || n == 0 {
				panic(fmt.Sprint("no datagram: ", err))
			}
			for _, ev := range events[:n] {
				if ev.Fd == fd {
					return
				}
			}
		}
	}

	if _, err := client.Write([]byte("ping")); err != nil {
		panic(err)
	}
	waitReadable(server)
	buf := make([]byte, 64)
	n, from, _, err := server.RecvFrom(buf)
	if err != nil {
		panic(err)
	}
	mine, _ := client.LocalAddrPort()
	fmt.Printf("server: %q from the client: %v\n", buf[:n], from == mine)
	if _, err := server.SendTo([]byte("pong"), from); err != nil {
		panic(err)
	}

	waitReadable(client)
	n, err = client.Read(buf)
	if err != nil {
		panic(err)
	}
	fmt.Printf("client: %q\n", buf[:n])
	// Output:
	// server: "ping" from the client: true
	// client: "pong"
}
