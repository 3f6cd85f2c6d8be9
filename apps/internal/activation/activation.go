// Package activation gives the servers their -systemd flag: serve the
// listening sockets the process inherited — from systemd's socket
// activation (LISTEN_FDS, LISTEN_PID) or from a predecessor's
// loop.Engine.PassListeners — instead of binding host and port.
package activation

import (
	"flag"
	"net"
	"strconv"

	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/loop"
)

// Register defines -systemd on fs.
func Register(fs *flag.FlagSet) *bool {
	return fs.Bool("systemd", false,
		"serve the listening sockets inherited from systemd (LISTEN_FDS) or a predecessor ("+loop.HandoffEnv+") instead of host and port")
}

// Listen serves, on e, the inherited sockets if inherited is set, else a
// new TCP listener on host and port. It returns what the servers print
// after "Listening on ": Python's repr of (host, port) as given (the port
// bound, if 0 was asked for), or of each inherited socket's address.
func Listen(e *loop.Engine, inherited bool, host string, port int) ([]string, error) {
	if inherited {
		addrs, err := e.ServeInherited(nil)
		if err != nil {
			return nil, err
		}
		shown := make([]string, len(addrs))
		for i, a := range addrs {
			shown[i] = pyfmt.Addr(a)
		}
		return shown, nil
	}
	addr, err := e.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	if a, ok := addr.(*net.TCPAddr); ok {
		port = a.Port // port 0 binds a free one; show which
	}
	return []string{pyfmt.HostPort(host, port)}, nil
}
