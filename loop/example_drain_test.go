package loop_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/evsel/evsel/loop"
)

// A graceful drain: Drain stops accepting, waits until the connections the
// engine holds have been closed by their peers (or by the handler), then
// stops the engine. Unlike Stop, it closes none of them itself: the client
// below goes on with its exchange, Drain returns once it has closed, and
// the server hears the client's close, io.EOF, not ErrStopped. ctx bounds
// the wait; past it the remaining connections are closed at once.
func ExampleEngine_Drain() {
	echo := loop.Funcs{
		Data: func(c *loop.Conn) {
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *loop.Conn, err error) { fmt.Println("server: closed:", err) },
	}
	e, err := loop.New(echo, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background()) // after Drain, nothing left to do
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	conn, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	roundTrip := func(msg string) {
		if _, err := conn.Write([]byte(msg)); err != nil {
			panic(err)
		}
		reply := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, reply); err != nil {
			panic(err)
		}
		fmt.Printf("client: %s\n", reply)
	}
	roundTrip("served")

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		drained <- e.Drain(ctx)
	}()
	roundTrip("still served")
	conn.Close() // the last connection ends: Drain stops the engine and returns
	fmt.Println("drain:", <-drained)
	// Output:
	// client: served
	// client: still served
	// server: closed: EOF
	// drain: <nil>
}
