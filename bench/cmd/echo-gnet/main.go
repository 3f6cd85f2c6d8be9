// Command echo-gnet is the echo server on github.com/panjf2000/gnet/v2, the
// established Go event-loop engine evsel is measured against. It is
// configured like echo-evsel: -cores event loops, SO_REUSEPORT listeners so
// each loop accepts for itself, TCP_NODELAY; everything else is gnet's
// default.
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

func (e *echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	f := serve.Parse()
	err := gnet.Run(&echo{addr: f.Addr}, "tcp://"+f.Addr,
		gnet.WithMulticore(f.Cores > 1),
		gnet.WithNumEventLoop(f.Cores),
		gnet.WithReusePort(f.ReusePort),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogLevel(logging.ErrorLevel),
	)
	if err != nil {
		serve.Fatal(err)
	}
}
