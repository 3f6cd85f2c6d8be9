// Command echo-evsel is the echo server on evsel's event-loop engine.
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
	e, err := loop.New(h, loop.Options{Loops: f.Cores, ReusePort: f.ReusePort, Driver: f.Driver})
	if err != nil {
		serve.Fatal(err)
	}
	addr, err := e.Listen("tcp", f.Addr)
	if err != nil {
		serve.Fatal(err)
	}
	serve.Ready(addr.String())
	<-e.Done()
}
