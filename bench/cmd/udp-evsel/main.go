// Command udp-evsel is the UDP echo server on evsel's engine: -cores loops,
// on Linux one SO_REUSEPORT socket each, replies batched per loop iteration
// (sendmmsg) and datagrams received in batches (recvmmsg).
package main

import (
	"github.com/evsel/evsel/bench/internal/serve"
	"github.com/evsel/evsel/loop"
)

func main() {
	f := serve.Parse()
	e, err := loop.New(loop.Funcs{}, loop.Options{Loops: f.Cores, Driver: f.Driver})
	if err != nil {
		serve.Fatal(err)
	}
	echo := loop.PacketFunc(func(pc *loop.PacketConn, data []byte, from loop.PacketAddr) {
		pc.WriteTo(data, from)
	})
	addr, err := e.ListenPacket("udp", f.Addr, echo)
	if err != nil {
		serve.Fatal(err)
	}
	serve.Ready(addr.String())
	<-e.Done()
}
