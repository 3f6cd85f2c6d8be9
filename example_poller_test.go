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

// The interest set follows what the owner has to do: a connection is
// watched for EventRead, and for EventWrite too only while output waits for
// room, since a socket with room in its send buffer is always writable and
// would be reported by every Wait. Modify switches the set; Delete stops
// watching, before the socket closes.
func ExamplePoller() {
	p, err := evsel.NewPoller()
	if err != nil {
		panic(err)
	}
	defer p.Close()
	a, b, err := evsel.Socketpair()
	if err != nil {
		panic(err)
	}
	defer a.Close()
	defer b.Close()
	fd := int(a.Fd())
	if err := p.Add(fd, evsel.EventRead); err != nil {
		panic(err)
	}
	defer p.Delete(fd)

	events := make([]evsel.Event, 8)
	reported := func() evsel.Events { // the events of fd's next report
		for {
			n, err := p.Wait(events, 5*time.Second)
			if err != nil || n == 0 {
				panic(fmt.Sprint("no readiness: ", err))
			}
			for _, ev := range events[:n] {
				if ev.Fd == fd {
					return ev.Events
				}
			}
		}
	}
	n, _ := p.Wait(events, 0)
	fmt.Println("idle:", n, "events")

	if err := p.Modify(fd, evsel.EventReadWrite); err != nil { // output to send
		panic(err)
	}
	fmt.Println("output waiting:", reported())
	if err := p.Modify(fd, evsel.EventRead); err != nil { // all of it sent
		panic(err)
	}
	if _, err := b.Write([]byte("x")); err != nil {
		panic(err)
	}
	fmt.Println("the peer wrote:", reported())
	// Output:
	// idle: 0 events
	// output waiting: W
	// the peer wrote: R
}

// Wake ends a Wait from another goroutine, the way other goroutines hand
// an event loop work: the Wait returns no events and no error, long before
// its timeout. Wakes made between two Waits count as one.
func ExamplePoller_Wake() {
	p, err := evsel.NewPoller()
	if err != nil {
		panic(err)
	}
	defer p.Close()
	woken := make(chan error, 1)
	go func() { woken <- p.Wake() }()

	start := time.Now()
	n, err := p.Wait(make([]evsel.Event, 8), time.Minute)
	fmt.Println("events:", n, "error:", err)
	fmt.Println("before the timeout:", time.Since(start) < time.Minute)
	fmt.Println("wake:", <-woken)
	// Output:
	// events: 0 error: <nil>
	// before the timeout: true
	// wake: <nil>
}
