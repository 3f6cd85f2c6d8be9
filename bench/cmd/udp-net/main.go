// Command udp-net is the UDP echo server on the standard net package as Go
// programs usually write it: one *net.UDPConn and, per core, a goroutine
// looping over ReadFromUDPAddrPort and WriteToUDPAddrPort (the
// allocation-free forms) with a buffer of its own.
package main

import (
	"net"
	"sync"

	"github.com/evsel/evsel/bench/internal/serve"
)

func main() {
	f := serve.Parse()
	addr, err := net.ResolveUDPAddr("udp", f.Addr)
	if err != nil {
		serve.Fatal(err)
	}
	c, err := net.ListenUDP("udp", addr)
	if err != nil {
		serve.Fatal(err)
	}
	serve.Ready(c.LocalAddr().String())
	var wg sync.WaitGroup
	for range f.Cores {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				c.WriteToUDPAddrPort(buf[:n], from)
			}
		})
	}
	wg.Wait()
}
