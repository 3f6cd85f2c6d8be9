//go:build !(netbsd || openbsd || dragonfly)

// Command echo-nbio is the echo server on github.com/lesismal/nbio, a second
// established Go event-loop engine beside gnet. It runs -cores pollers
// (nbio's event loops; it accepts on a listener goroutine of its own) and
// keeps nbio's defaults otherwise: level-triggered epoll, reading in the
// poller goroutine, Go's TCP_NODELAY on accepted connections.
package main

import (
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"github.com/evsel/evsel/bench/internal/serve"
)

func main() {
	f := serve.Parse()
	logging.SetLevel(logging.LevelError)
	e := nbio.NewEngine(nbio.Config{
		Network: "tcp",
		Addrs:   []string{f.Addr},
		NPoller: f.Cores,
	})
	// data is nbio's read buffer, reused after the callback: Write copies
	// whatever the kernel does not take at once.
	e.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	if err := e.Start(); err != nil {
		serve.Fatal(err)
	}
	serve.Ready(f.Addr)
	select {}
}
