// Command tls-net is the goroutine-per-connection TLS echo server on the
// standard net and crypto/tls packages: the baseline for evsel's TLS.
package main

import (
	"crypto/tls"
	"net"

	"github.com/evsel/evsel/bench/internal/serve"
)

// bufSize is io.Copy's buffer size, as echo-net's.
const bufSize = 32 << 10

func main() {
	cfg := serve.TLSConfig()
	serve.GoroutinePerConn(serve.Parse(), func(c net.Conn) { echo(tls.Server(c, cfg)) })
}

// echo copies what the peer sends back to it until the peer closes or an
// error; the handshake happens on the first Read.
func echo(c *tls.Conn) {
	defer c.Close()
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
