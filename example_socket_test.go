package evsel_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/evsel/evsel"
)

// A blocking server, the shape of Python's socket tutorial: Listen returns
// a non-blocking listening socket, and SetBlocking(true) gives the blocking
// Accept and Read of a simple program (an event loop keeps its sockets
// non-blocking and waits for readiness instead: see NewPoller). The client
// is Go's net package; it connects and writes before the server accepts,
// as the kernel completes the connect and holds the bytes meanwhile.
func ExampleListen() {
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	ln.SetBlocking(true)
	addr, _ := ln.LocalAddr()

	client, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Write([]byte("hello")); err != nil {
		panic(err)
	}

	conn, peer, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.SetBlocking(true) // accepted sockets are non-blocking too
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		panic(err)
	}
	fmt.Printf("server: %q from the client: %v\n", buf[:n], peer.String() == client.LocalAddr().String())
	if _, err := conn.Write(bytes.ToUpper(buf[:n])); err != nil {
		panic(err)
	}

	reply := make([]byte, n)
	if _, err := io.ReadFull(client, reply); err != nil {
		panic(err)
	}
	fmt.Printf("client: %q\n", reply)
	// Output:
	// server: "hello" from the client: true
	// client: "HELLO"
}

// A non-blocking connect: Dial returns at once with a socket that may
// still be connecting. Once the poller reports it writable the connect has
// ended, and ConnectResult says how: nil, or the error (ECONNREFUSED...).
// The server is Go's net package.
func ExampleDial() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	s, err := evsel.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer s.Close()
	p, err := evsel.NewPoller()
	if err != nil {
		panic(err)
	}
	defer p.Close()
	fd := int(s.Fd())
	if err := p.Add(fd, evsel.EventWrite); err != nil {
		panic(err)
	}
	defer p.Delete(fd) // before the socket closes
	events := make([]evsel.Event, 8)
	for writable := false; !writable; {
		n, err := p.Wait(events, 5*time.Second)
		if err != nil || n == 0 {
			panic(fmt.Sprint("no readiness: ", err))
		}
		for _, ev := range events[:n] {
			writable = writable || ev.Fd == fd
		}
	}
	fmt.Println("connect result:", s.ConnectResult())

	server, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	defer server.Close()
	server.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.TryWrite([]byte("hello")); err != nil {
		panic(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(server, got); err != nil {
		panic(err)
	}
	fmt.Printf("server read %q\n", got)
	// Output:
	// connect result: <nil>
	// server read "hello"
}

// Socketpair gives two connected sockets in one call, with nothing to
// listen on: a program's wake-up channel, or a test's connection. Both are
// non-blocking; the reader here switches to blocking mode to wait for the
// bytes, which on Windows (a TCP pair over the loopback) may take a moment
// to arrive.
func ExampleSocketpair() {
	a, b, err := evsel.Socketpair()
	if err != nil {
		panic(err)
	}
	defer a.Close()
	defer b.Close()
	if _, err := a.Write([]byte("ping")); err != nil {
		panic(err)
	}
	b.SetBlocking(true)
	buf := make([]byte, 16)
	n, err := b.Read(buf)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", buf[:n])
	a.Shutdown(evsel.ShutWrite)
	_, err = b.Read(buf)
	fmt.Println("after the peer's shutdown:", err)
	// Output:
	// ping
	// after the peer's shutdown: EOF
}
