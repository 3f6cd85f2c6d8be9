package selector_test

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/selector"
)

// This is the main loop of the multi-connection echo server from Real
// Python's socket tutorial (multiconn-server.py), line for line in Go. To
// make it run as a test, it serves one client that it starts itself, and
// stops once that client has gone; it prints addresses without their ports,
// which change from run to run.

// connState is the server's data for one connection, Python's
// types.SimpleNamespace(addr=addr, inb=b"", outb=b"").
type connState struct {
	addr net.Addr
	inb  []byte
	outb []byte
}

// host is an address without its port.
func host(a net.Addr) string {
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

func acceptWrapper(sel *selector.Selector, sock *evsel.Socket) {
	conn, addr, err := sock.Accept() // Should be ready to read
	if err != nil {
		return // ErrWouldBlock: the client gave up meanwhile
	}
	fmt.Println("Accepted connection from", host(addr))
	conn.SetBlocking(false)
	data := &connState{addr: addr}
	events := selector.EventRead | selector.EventWrite
	if _, err := sel.Register(conn, events, data); err != nil {
		conn.Close()
	}
}

// serviceConnection reports whether it closed the connection.
func serviceConnection(sel *selector.Selector, key *selector.Key, mask selector.Events) bool {
	sock := key.File.(*evsel.Socket)
	data := key.Data.(*connState)
	if mask&selector.EventRead != 0 {
		recvData := make([]byte, 1024)
		n, err := sock.Read(recvData) // Should be ready to read
		switch {
		case err == nil:
			data.outb = append(data.outb, recvData[:n]...)
		case errors.Is(err, evsel.ErrWouldBlock):
		default: // io.EOF, or the connection failed
			fmt.Println("Closing connection to", host(data.addr))
			sel.Unregister(sock)
			sock.Close()
			return true
		}
	}
	if mask&selector.EventWrite != 0 && len(data.outb) > 0 {
		fmt.Printf("Echoing %q to %s\n", data.outb, host(data.addr))
		sent, err := sock.Write(data.outb) // Should be ready to write
		if err == nil {
			data.outb = data.outb[sent:]
		}
	}
	return false
}

// client connects with Go's blocking net package, sends msg, and returns
// what comes back.
func client(addr, msg string) string {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err.Error()
	}
	echo := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, echo); err != nil {
		return err.Error()
	}
	return string(echo)
}

func Example() {
	sel, err := selector.New()
	if err != nil {
		panic(err)
	}
	defer sel.Close()

	lsock, err := evsel.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer lsock.Close()
	addr, _ := lsock.LocalAddr()
	fmt.Println("Listening on", host(addr))
	lsock.SetBlocking(false)
	sel.Register(lsock, selector.EventRead, nil)

	echoed := make(chan string, 1)
	go func() { echoed <- client(addr.String(), "Hello, world") }()

	for served := false; !served; {
		events, err := sel.Select(selector.Forever)
		if err != nil {
			panic(err)
		}
		for _, r := range events {
			if r.Key.Data == nil {
				acceptWrapper(sel, r.Key.File.(*evsel.Socket))
			} else if serviceConnection(sel, r.Key, r.Events) {
				served = true
			}
		}
	}
	fmt.Printf("Client received %q\n", <-echoed)

	// Output:
	// Listening on 127.0.0.1
	// Accepted connection from 127.0.0.1
	// Echoing "Hello, world" to 127.0.0.1
	// Closing connection to 127.0.0.1
	// Client received "Hello, world"
}
