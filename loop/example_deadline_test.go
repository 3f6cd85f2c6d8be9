package loop_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/evsel/evsel/loop"
)

// A server that gives each client half a second for its next message,
// nbio's keep-alive idiom: every OnData moves the read deadline on, so a
// client that keeps talking stays, and one that falls silent is closed
// (gracefully: what it was sent still arrives).
func ExampleConn_SetReadDeadline() {
	const keepAlive = 500 * time.Millisecond
	closed := make(chan error, 1)
	h := loop.Funcs{
		Open: func(c *loop.Conn) { c.SetReadDeadline(time.Now().Add(keepAlive)) },
		Data: func(c *loop.Conn) {
			c.SetReadDeadline(time.Now().Add(keepAlive))
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *loop.Conn, err error) { closed <- err },
	}
	e, err := loop.New(h, loop.Options{Loops: 1})
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
	fmt.Fprintln(conn, "hello")
	r := bufio.NewReader(conn)
	line, _ := r.ReadString('\n')
	fmt.Print(line)
	rest, _ := io.ReadAll(r) // the client falls silent: the server closes
	fmt.Printf("%d more bytes, then the end\n", len(rest))
	err = <-closed
	fmt.Println(err, errors.Is(err, os.ErrDeadlineExceeded))
	// Output:
	// hello
	// 0 more bytes, then the end
	// loop: read deadline passed: i/o timeout true
}
