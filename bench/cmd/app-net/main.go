// Command app-net serves the message protocol (the reference app-server's
// search, connections kept open for further requests) with a goroutine per
// connection on the standard net package, using the same codec and app
// logic as app-evsel.
package main

import (
	"fmt"
	"net"
	"os"

	"github.com/evsel/evsel/bench/internal/serve"
	"github.com/evsel/evsel/message"
)

const readSize = 16 << 10

func main() { serve.GoroutinePerConn(serve.Parse(), handle) }

// handle reads what arrives, answers every complete request in it, and
// sends the answers with one write: pipelined requests cost one write per
// read, not one per request.
func handle(c net.Conn) {
	defer c.Close()
	var s message.Stream
	buf := make([]byte, readSize)
	var out []byte
	for {
		n, rerr := c.Read(buf)
		s.Feed(buf[:n])
		out = out[:0]
		for {
			req, ok, err := s.Next()
			if err != nil {
				fmt.Fprintln(os.Stderr, "app-net:", err)
				c.Write(out)
				return
			}
			if !ok {
				break
			}
			resp, err := message.ServerResponse(req)
			if err == nil {
				out, err = resp.AppendFrame(out)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "app-net:", err)
				c.Write(out)
				return
			}
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if rerr != nil {
			return
		}
	}
}
