// Package activation gives the servers their -systemd flag: serve the
// listening sockets the process inherited — from systemd's socket
// activation (LISTEN_FDS, LISTEN_PID) or from a predecessor's
// loop.Engine.PassListeners — instead of binding host and port.
package activation

import (
	"crypto/tls"
	"errors"
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
// new TCP listener on host and port, with TLS if tlsCfg is not nil. It
// returns what the servers print after "Listening on ": Python's repr of
// (host, port) as given (the port bound, if 0 was asked for), or of each
// inherited socket's address.
func Listen(e *loop.Engine, inherited bool, host string, port int, tlsCfg *tls.Config) ([]string, error) {
	if inherited {
		if tlsCfg != nil {
			// The engine serves adopted listeners in plaintext only.
			return nil, errors.New("-systemd does not combine with -tls-cert: inherited sockets are served in plaintext")
		}
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
	address := net.JoinHostPort(host, strconv.Itoa(port))
	var addr net.Addr
	var err error
	if tlsCfg != nil {
		addr, err = e.ListenTLS("tcp", address, tlsCfg)
	} else {
		addr, err = e.Listen("tcp", address)
	}
	if err != nil {
		return nil, err
	}
	if a, ok := addr.(*net.TCPAddr); ok {
		port = a.Port // port 0 binds a free one; show which
	}
	return []string{pyfmt.HostPort(host, port)}, nil
}
