// Command app-evsel serves the message protocol (the reference app-server's
// search) on evsel's engine with msgloop.Server, keeping connections open
// for further requests.
package main

import (
	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/bench/internal/serve"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

func main() {
	f := serve.Parse()
	s, err := msgloop.NewServer(refapp.ServerResponse, msgloop.ServerOptions{
		Loop:         loop.Options{Loops: f.Cores, ReusePort: f.ReusePort, Driver: f.Driver},
		ServerConfig: message.ServerConfig{KeepAlive: true},
	})
	if err != nil {
		serve.Fatal(err)
	}
	addr, err := s.Listen("tcp", f.Addr)
	if err != nil {
		serve.Fatal(err)
	}
	serve.Ready(addr.String())
	<-s.Engine().Done()
}
