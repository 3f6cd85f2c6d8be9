// Command echo-net is the goroutine-per-connection echo server on the
// standard net package: the way Go servers are usually written, and the
// baseline evsel's engine has to beat on cost per message and memory per
// connection.
package main

import (
	"net"

	"github.com/evsel/evsel/bench/internal/serve"
)

// bufSize is io.Copy's buffer size. The buffer is allocated once per
// connection and reused for every read.
const bufSize = 32 << 10

func main() { serve.GoroutinePerConn(serve.Parse(), echo) }

// echo copies what the peer sends back to it (TCP_NODELAY is Go's default)
// until the peer closes or an error.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
