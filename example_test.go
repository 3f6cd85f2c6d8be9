package evsel_test

import (
	"fmt"
	"time"

	"github.com/evsel/evsel"
)

// ExampleSocket_TryRead serves one connection the way an event loop does:
// wait for readiness, then read and write without ever waiting in the
// socket calls themselves.
func ExampleSocket_TryRead() {
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	addr, _ := ln.LocalAddr()
	client, err := evsel.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer client.Close()

	p, err := evsel.NewPoller()
	if err != nil {
		panic(err)
	}
	defer p.Close()
	events := make([]evsel.Event, 4)
	wait := func(fd int, ev evsel.Events) {
		if err := p.Add(fd, ev); err != nil {
			panic(err)
		}
		defer p.Delete(fd)
		for {
			n, err := p.Wait(events, time.Second)
			if err != nil || n == 0 {
				panic(fmt.Sprint("no readiness: ", err))
			}
			for _, e := range events[:n] {
				if e.Fd == fd {
					return
				}
			}
		}
	}

	wait(int(ln.Fd()), evsel.EventRead)
	server, _, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	defer server.Close()

	buf := make([]byte, 64)
	if _, err := server.TryRead(buf); err == evsel.ErrWouldBlock {
		fmt.Println("nothing yet")
	}
	wait(int(client.Fd()), evsel.EventWrite) // connected
	client.TryWrite([]byte("hello"))
	wait(int(server.Fd()), evsel.EventRead)
	n, _ := server.TryRead(buf)
	fmt.Printf("%s\n", buf[:n])
	// Output:
	// nothing yet
	// hello
}
