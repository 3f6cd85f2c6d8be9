// Command tls-evsel is the TLS echo server on evsel's event-loop engine
// (Engine.ListenTLS: handshakes on a bounded goroutine pool, records on the
// loops).
package main

import (
	"github.com/evsel/evsel/bench/internal/serve"
	"github.com/evsel/evsel/loop"
)

func main() {
	f := serve.Parse()
	h := loop.Funcs{
		Data: func(c *loop.Conn) {
			in := c.Inbound()
			c.Write(in)
			c.Consume(len(in))
		},
	}
	e, err := loop.New(h, loop.Options{Loops: f.Cores, ReusePort: f.ReusePort})
	if err != nil {
		serve.Fatal(err)
	}
	addr, err := e.ListenTLS("tcp", f.Addr, serve.TLSConfig())
	if err != nil {
		serve.Fatal(err)
	}
	serve.Ready(addr.String())
	<-e.Done()
}
