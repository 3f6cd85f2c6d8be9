// Command udp-gnet is the UDP echo server on github.com/panjf2000/gnet/v2,
// configured like udp-evsel: -cores event loops, SO_REUSEPORT; everything
// else is gnet's default.
package main

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"

	"github.com/evsel/evsel/bench/internal/serve"
)

type echo struct {
	gnet.BuiltinEventEngine
	addr string
}

func (e *echo) OnBoot(gnet.Engine) gnet.Action {
	serve.Ready(e.addr)
	return gnet.None
}

// OnTraffic answers the datagram: for UDP a gnet.Conn stands for the
// sender, and Write sends to it.
func (e *echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	f := serve.Parse()
	err := gnet.Run(&echo{addr: f.Addr}, "udp://"+f.Addr,
		gnet.WithMulticore(f.Cores > 1),
		gnet.WithNumEventLoop(f.Cores),
		gnet.WithReusePort(f.ReusePort),
		gnet.WithLogLevel(logging.ErrorLevel),
	)
	if err != nil {
		serve.Fatal(err)
	}
}
