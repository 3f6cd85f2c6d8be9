package loop_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/evsel/evsel/loop"
)

// A feed pushed by a goroutine of its own: WriteWait holds the producer
// back while the subscriber's output is above HighWater, where AsyncWrite
// would queue without bound (and MaxOutput would then close the
// connection).
func ExampleConn_WriteWait() {
	feed := loop.Funcs{Open: func(c *loop.Conn) {
		go func() {
			for i := range 1000 {
				line := fmt.Sprintf("tick %d %s\n", i, strings.Repeat(".", 1000))
				if err := c.WriteWait(context.Background(), []byte(line)); err != nil {
					return // the subscriber left
				}
			}
			c.AsyncClose(nil)
		}()
	}}
	e, err := loop.New(feed, loop.Options{Loops: 1, HighWater: 64 << 10})
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
	all, _ := io.ReadAll(conn) // a subscriber at its own pace
	fmt.Println(strings.Count(string(all), "tick"), "lines")
	// Output: 1000 lines
}
