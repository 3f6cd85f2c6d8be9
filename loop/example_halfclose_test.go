package loop_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"

	"github.com/evsel/evsel/loop"
)

// A server for requests whose end is the end of the client's stream, as
// in the Python socket HOWTO's shutdown(1) exchange: OnData leaves the
// bytes in Inbound, and OnEOF, which the half-close brings, answers on the
// connection that is still open for writing, then ends its own side.
func ExampleEOFHandler() {
	upper := loop.Funcs{
		Data: func(c *loop.Conn) {}, // not whole until the end
		EOF: func(c *loop.Conn) {
			c.Write(bytes.ToUpper(c.Inbound()))
			c.Consume(len(c.Inbound()))
			c.CloseWrite() // both sides ended: the connection closes
		},
	}
	e, err := loop.New(upper, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.Write([]byte("hello, "))
	conn.Write([]byte("half-closed world"))
	conn.(*net.TCPConn).CloseWrite() // the request is whole
	answer, _ := io.ReadAll(conn)
	fmt.Printf("%s\n", answer)
	// Output: HELLO, HALF-CLOSED WORLD
}
