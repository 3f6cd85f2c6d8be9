package evsel_test

import (
	"fmt"
	"net"
	"time"

	"github.com/evsel/evsel"
)

// ExampleNewPoller uses the readiness poller on its own, as each of the
// engine's loops does. A listening socket is watched for EventRead; a Wait
// that polls (timeout zero) finds nothing while no client has come, and once
// one has connected Wait reports the listener readable, so Accept takes the
// connection without waiting. NewPoller returns the platform's best backend
// (epoll on Linux, kqueue on macOS and the BSDs, IOCP on Windows).
func ExampleNewPoller() {
	p, err := evsel.NewPoller()
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	fd := int(ln.Fd())
	if err := p.Add(fd, evsel.EventRead); err != nil {
		panic(err)
	}
	defer p.Delete(fd) // before the socket closes

	events := make([]evsel.Event, 8)
	n, err := p.Wait(events, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("events before a client:", n)

	addr, _ := ln.LocalAddr()
	client, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	defer client.Close()

	for ready := false; !ready; {
		n, err := p.Wait(events, 5*time.Second)
		if err != nil || n == 0 {
			panic(fmt.Sprint("no readiness: ", err))
		}
		for _, ev := range events[:n] {
			if ev.Fd == fd {
				fmt.Println("listener ready:", ev.Events)
				ready = true
			}
		}
	}
	conn, peer, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Println("accepted the client:", peer.String() == client.LocalAddr().String())
	// Output:
	// events before a client: 0
	// listener ready: R
	// accepted the client: true
}
