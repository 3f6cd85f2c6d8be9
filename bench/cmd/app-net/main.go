// Command app-net serves the message protocol (the reference app-server's
// search, connections kept open for further requests) with a goroutine per
// connection on the standard net package, using the same protocol machine
// (message.ServerConn) and application (refapp) as app-evsel.
package main

import (
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/bench/internal/serve"
	"github.com/evsel/evsel/message"
)

const readSize = 16 << 10

func main() { serve.GoroutinePerConn(serve.Parse(), handle) }

// handle reads what arrives, answers every complete request in it, and
// sends the answers with one write: pipelined requests cost one write per
// read, not one per request. It does without the incomplete-request
// timeout, which a blocking read would need a read deadline for; the
// benchmark's clients never stall.
func handle(c net.Conn) {
	defer c.Close()
	m := message.ServerConn{Config: message.ServerConfig{KeepAlive: true, MessageTimeout: -1}}
	buf := make([]byte, 0, readSize) // received, not yet consumed, from buf[0]
	var out []byte
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, readSize) // a request larger than a read
		}
		n, rerr := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		out = out[:0]
		off := 0
		for {
			req, k, err := m.Next(buf[off:], time.Time{})
			if err == nil && k > 0 {
				var resp message.Message
				if resp, err = refapp.ServerResponse(req); err == nil {
					out, err = m.Respond(out, resp)
				}
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "app-net:", err)
				c.Write(out)
				return
			}
			if k == 0 {
				break
			}
			off += k
		}
		buf = buf[:copy(buf, buf[off:])]
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		m.Flushed()
		if rerr != nil {
			return
		}
	}
}
