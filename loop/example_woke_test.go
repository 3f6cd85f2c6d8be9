package loop_test

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/evsel/evsel/loop"
)

// A handler that hands each line to a goroutine waiting for it. The send
// makes that goroutine runnable; Woke has the loop let it run before the
// loop next waits in the kernel, which matters when every P is held by a
// loop (GOMAXPROCS=1).
func ExampleLoop_Woke() {
	lines := make(chan string, 1)
	h := loop.Funcs{Data: func(c *loop.Conn) {
		in := string(c.Inbound())
		i := strings.IndexByte(in, '\n')
		if i < 0 {
			return // not a whole line yet
		}
		c.Consume(i + 1)
		lines <- in[:i]
		c.Loop().Woke()
	}}
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
	conn.Write([]byte("hello, loop\n"))
	fmt.Println(<-lines)
	// Output: hello, loop
}
