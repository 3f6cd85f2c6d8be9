package loop_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/evsel/evsel/loop"
)

// A connection's state, which only its loop may touch, read from another
// goroutine: DoWait runs the function on the loop and returns once it
// has, so what it stored is the caller's to read.
func ExampleConn_DoWait() {
	type stats struct{ received int }
	conns := make(chan *loop.Conn, 1)
	h := loop.Funcs{
		Open: func(c *loop.Conn) {
			c.SetData(&stats{})
			conns <- c
		},
		Data: func(c *loop.Conn) {
			c.Data().(*stats).received += len(c.Inbound())
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
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
	client, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	c := <-conns
	client.Write([]byte("hello"))
	io.ReadFull(client, make([]byte, 5)) // echoed: the loop has counted it

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var received, buffered int
	err = c.DoWait(ctx, func(c *loop.Conn) {
		received = c.Data().(*stats).received
		buffered = c.Buffered()
	})
	fmt.Println(received, buffered, err)
	// Output: 5 0 <nil>
}
