// Command tcpserver is the socketserver.TCPServer example of Python's
// documentation (TCPServer.py) on evsel's event-loop engine.
//
//	tcpserver [-loops N] [-idle-timeout D] [-linger D] [-first-byte-timeout D] [-max-conns N]
//	          [-max-memory BYTES] [host [port]]
//	tcpserver -systemd [flags]
//
// Host and port default to localhost and 9999. For each connection it does
// what the example's handler does: it takes the first bytes to arrive (up
// to 1024), strips ASCII whitespace from both ends, prints "ADDR wrote:"
// (the client's IP address) and then the bytes as Python's print(bytes)
// shows them, sends them back upper-cased (ASCII letters only, as
// bytes.upper) and closes the connection. A client that closes without
// sending gets the same treatment with empty bytes. Like the original
// it prints nothing when it starts; unlike it, it serves connections
// concurrently.
//
// Ctrl-C prints "Caught keyboard interrupt, exiting" (SIGTERM "Caught
// SIGTERM, exiting"), stops gracefully and exits 0; a second signal exits
// at once (see apps/internal/shutdown). It is bounded by default like the
// other servers (apps/internal/bounds): -first-byte-timeout (10s),
// -idle-timeout (60s), -linger (10s), -max-conns (the open-file limit minus
// 64) and -max-memory (256 MiB); 0 turns each off. -systemd serves the
// listening sockets the process inherited (systemd socket activation, or a
// predecessor's loop.Engine.PassListeners) instead of host and port.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/evsel/evsel/apps/internal/activation"
	"github.com/evsel/evsel/apps/internal/bounds"
	"github.com/evsel/evsel/apps/internal/driverflag"
	"github.com/evsel/evsel/apps/internal/linelog"
	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/apps/internal/shutdown"
	"github.com/evsel/evsel/loop"
)

// recvSize is the example's self.request.recv(1024).
const recvSize = 1024

func main() {
	loops := flag.Int("loops", 0, "number of event loops (default GOMAXPROCS)")
	limits := bounds.Register(flag.CommandLine)
	drv := driverflag.Register(flag.CommandLine)
	inherited := activation.Register(flag.CommandLine)
	flag.Parse()
	if flag.NArg() > 2 || (*inherited && flag.NArg() > 0) {
		fmt.Printf("Usage: %s [host [port]]\n", os.Args[0])
		os.Exit(1)
	}
	host, port := "localhost", 9999
	if flag.NArg() > 0 {
		host = flag.Arg(0)
	}
	if flag.NArg() > 1 {
		var err error
		if port, err = strconv.Atoi(flag.Arg(1)); err != nil {
			fmt.Fprintf(os.Stderr, "tcpserver: invalid port %q\n", flag.Arg(1))
			os.Exit(1)
		}
	}
	stopped := shutdown.OnSignal()
	stdout, stderr := linelog.New(os.Stdout, 0, 0), linelog.New(os.Stderr, 0, 0)
	fail := func(err error) { linelog.Fail("tcpserver", stdout, stderr, err) }
	opts := loop.Options{Loops: *loops}
	limits.Apply(&opts)
	driverflag.Apply(drv, &opts)
	eng, err := loop.New(handler(stdout, stderr), opts)
	if err != nil {
		fail(err)
	}
	if _, err := activation.Listen(eng, *inherited, host, port, nil); err != nil {
		fail(err)
	}

	<-stopped.Done()
	stdout.Line(shutdown.Line(shutdown.Caught(stopped)))
	shutdown.Stop(eng)
	linelog.Finish(stdout, stderr)
}

// request is a connection's state: the client's address, taken at the
// accept because a reset peer has none later, and whether its one request
// has been answered (what arrives after it is dropped, as the example never
// reads it).
type request struct {
	client   string
	answered bool
}

// handler is MyTCPHandler.handle: one receive, one answer, then the close.
func handler(out, errs *linelog.Writer) loop.Funcs {
	respond := func(c *loop.Conn, r *request, data []byte) {
		r.answered = true
		data = trimSpace(data)
		// One entry, so that the two lines of a connection stay together.
		out.Line(r.client + " wrote:\n" + pyfmt.Bytes(data))
		c.Write(upper(data))
		c.Close()
	}
	return loop.Funcs{
		Open: func(c *loop.Conn) { c.SetData(&request{client: clientIP(c)}) },
		Data: func(c *loop.Conn) {
			in := c.Inbound()
			if r := c.Data().(*request); !r.answered {
				respond(c, r, in[:min(len(in), recvSize)])
			}
			c.Consume(len(in))
		},
		Close: func(c *loop.Conn, err error) {
			r := c.Data().(*request)
			switch {
			case r.answered:
			case err == io.EOF: // recv returned b'': nothing to send back
				out.Line(r.client + " wrote:\n" + pyfmt.Bytes(nil))
			case errors.Is(err, loop.ErrStopped): // Ctrl-C before the request came
			case err != nil:
				errs.Printf("tcpserver: connection from %s: %v\n", r.client, err)
			}
		},
	}
}

// clientIP is the example's self.client_address[0].
func clientIP(c *loop.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return fmt.Sprint(c.RemoteAddr())
}

// trimSpace is bytes.strip(): ASCII whitespace only, where bytes.TrimSpace
// would also take Unicode spaces.
func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// upper is bytes.upper(): ASCII letters only, where bytes.ToUpper would
// also change UTF-8 letters.
func upper(b []byte) []byte {
	u := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		u[i] = c
	}
	return u
}
