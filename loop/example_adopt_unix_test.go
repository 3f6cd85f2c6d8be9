//go:build unix

package loop_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/evsel/evsel/loop"
)

// Serving a listener made elsewhere, by net.Listen here (a library, or a
// parent process, in a real program): ServeListener takes a duplicate of its
// socket and serves it as Listen serves the engine's own, on the same address.
// Once it has succeeded the original is closed, so its Accept fails; the
// engine accepts instead. Adoption is not supported on Windows.
func ExampleEngine_ServeListener() {
	echo := loop.Funcs{Data: func(c *loop.Conn) {
		c.Write(c.Inbound())
		c.Consume(len(c.Inbound()))
	}}
	e, err := loop.New(echo, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr, err := e.ServeListener(ln)
	if err != nil {
		panic(err)
	}
	fmt.Println("same address:", addr.String() == ln.Addr().String())
	_, err = ln.Accept()
	fmt.Println("original closed:", errors.Is(err, net.ErrClosed))

	conn, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("served by the engine")); err != nil {
		panic(err)
	}
	reply := make([]byte, len("served by the engine"))
	if _, err := io.ReadFull(conn, reply); err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply)
	// Output:
	// same address: true
	// original closed: true
	// served by the engine
}

// Taking over a connection made elsewhere: here one that Go's net accepted
// and read a greeting from with blocking code, as a program does before it
// knows which protocol follows. Adopt serves it like an accepted connection
// (OnOpen, then OnData as bytes arrive); what was read before is not seen
// again, and the caller's net.Conn is closed, the engine holding its own
// copy of the socket. Adoption is not supported on Windows.
func ExampleEngine_Adopt() {
	echo := loop.Funcs{
		Open: func(c *loop.Conn) { fmt.Println("engine: serving", c.RemoteAddrPort().Addr()) },
		Data: func(c *loop.Conn) {
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
	}
	e, err := loop.New(echo, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Write([]byte("HELLO\n")); err != nil {
		panic(err)
	}

	nc, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	greeting := make([]byte, len("HELLO\n"))
	if _, err := io.ReadFull(nc, greeting); err != nil {
		panic(err)
	}
	fmt.Printf("net: read %q\n", greeting)
	if _, err := e.Adopt(nc); err != nil {
		nc.Close() // on error nc is still the caller's
		panic(err)
	}

	if _, err := client.Write([]byte("adopted")); err != nil {
		panic(err)
	}
	reply := make([]byte, len("adopted"))
	if _, err := io.ReadFull(client, reply); err != nil {
		panic(err)
	}
	fmt.Printf("client: %s\n", reply)
	// Output:
	// net: read "HELLO\n"
	// engine: serving 127.0.0.1
	// client: adopted
}
