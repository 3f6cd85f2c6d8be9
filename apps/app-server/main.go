// Command app-server is Real Python's app-server.py on evsel: it answers
// the application protocol (a length-prefixed JSON header, then content) on
// the event-loop engine.
//
//	app-server [-keepalive] [-loops N] [-quiet] [-max-content N] [-max-json-content N] [-message-timeout D]
//	           [-idle-timeout D] [-linger D] [-first-byte-timeout D] [-max-conns N] [-max-memory BYTES]
//	           [-tls-cert FILE -tls-key FILE] <host> <port>
//	app-server -systemd [flags]
//
// It prints what the reference prints: "Listening on ('HOST', PORT)",
// "Accepted connection from ADDR", "Received request {...} from ADDR" (or
// "Received CONTENT-TYPE request from ADDR" for binary content),
// "Sending b'...' to ADDR" and "Closing connection to ADDR"; Ctrl-C prints
// "Caught keyboard interrupt, exiting" (SIGTERM "Caught SIGTERM, exiting"),
// stops gracefully and exits 0, and a second signal exits at once (see
// apps/internal/shutdown). Lines are printed through a bounded queue: if
// stdout is not read they are dropped, and counted on stderr at exit,
// rather than stalling the server. Like the reference it closes each
// connection after one response, unless -keepalive keeps it open for more
// (pipelined) requests. Unlike the reference, a malformed or oversized
// request, or one that stalls half-sent, closes only its own connection,
// with the reason on stderr. Requests cost bounded work: text/json content
// is limited to 1 MiB by default (-max-json-content; binary content to
// -max-content, 16 MiB), only its action and value are parsed, and JSON
// content past 64 KiB is not printed in full.
//
// Every state a connection can sit in has a deadline by default, so that
// peers cannot hold the server's descriptors and memory for as long as they
// stay: nothing sent since the accept, -first-byte-timeout (10s); a request
// started and not finished, -message-timeout (10s); nothing between
// requests, -idle-timeout (60s); a close (after a response, a fault such as
// too many requests in flight, or Ctrl-C) whose output the peer does not
// take, -linger (10s), after which it is closed hard. Past -max-conns
// connections (default the open-file limit minus 64) the longest-idle one
// is shed to admit a new one. Past -max-memory bytes (256 MiB) of input and
// output held by all connections together, those holding the most are not
// read, then closed (see loop.Options.MaxMemory). 0 turns each off.
//
// -systemd serves the listening sockets the process inherited (systemd
// socket activation, or a predecessor's loop.Engine.PassListeners) instead
// of host and port, with a Listening line for each.
//
// -tls-cert and -tls-key (PEM files; go run ./apps/tls-cert makes a pair)
// serve TLS instead of plaintext (msgloop.Server.ListenTLS); a failed
// handshake is logged on stderr and prints no connection lines.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/evsel/evsel/apps/internal/activation"
	"github.com/evsel/evsel/apps/internal/bounds"
	"github.com/evsel/evsel/apps/internal/driverflag"
	"github.com/evsel/evsel/apps/internal/linelog"
	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/apps/internal/shutdown"
	"github.com/evsel/evsel/apps/internal/tlsflags"
	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

func main() {
	keepAlive := flag.Bool("keepalive", false, "keep connections open after a response")
	loops := flag.Int("loops", 0, "number of event loops (default GOMAXPROCS)")
	quiet := flag.Bool("quiet", false, "do not print a line per connection event")
	maxContent := flag.Int("max-content", message.DefaultMaxContentLength, "largest request content-length accepted")
	maxJSON := flag.Int("max-json-content", message.DefaultMaxJSONContentLength, "largest text/json request content-length accepted")
	msgTimeout := flag.Duration("message-timeout", 10*time.Second, "time a started request may take to arrive in full")
	limits := bounds.Register(flag.CommandLine)
	drv := driverflag.Register(flag.CommandLine)
	inherited := activation.Register(flag.CommandLine)
	tlsFlags := tlsflags.RegisterServer(flag.CommandLine)
	flag.Parse()
	if flag.NArg() != 2 && !(*inherited && flag.NArg() == 0) {
		fmt.Printf("Usage: %s <host> <port>\n", os.Args[0])
		os.Exit(1)
	}
	host, port := flag.Arg(0), 0
	if !*inherited {
		var err error
		if port, err = strconv.Atoi(flag.Arg(1)); err != nil {
			fmt.Fprintf(os.Stderr, "app-server: invalid port %q\n", flag.Arg(1))
			os.Exit(1)
		}
	}
	stopped := shutdown.OnSignal()
	stdout, stderr := linelog.New(os.Stdout, 0, 0), linelog.New(os.Stderr, 0, 0)
	fail := func(err error) { linelog.Fail("app-server", stdout, stderr, err) }

	opts := msgloop.ServerOptions{
		Loop: loop.Options{Loops: *loops},
		ServerConfig: message.ServerConfig{
			KeepAlive:            *keepAlive,
			MaxContentLength:     *maxContent,
			MaxJSONContentLength: *maxJSON,
			MessageTimeout:       *msgTimeout,
		},
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	}
	limits.Apply(&opts.Loop)
	driverflag.Apply(drv, &opts.Loop)
	if !*quiet {
		opts.Hooks = printHooks(stdout)
	}
	srv, err := msgloop.NewServer(refapp.ServerResponse, opts)
	if err != nil {
		fail(err)
	}
	tlsCfg, err := tlsFlags.Config()
	if err != nil {
		fail(err)
	}
	shown, err := activation.Listen(srv.Engine(), *inherited, host, port, tlsCfg)
	if err != nil {
		fail(err)
	}
	for _, a := range shown {
		stdout.Line("Listening on " + a)
	}

	<-stopped.Done()
	stdout.Line(shutdown.Line(shutdown.Caught(stopped)))
	shutdown.Stop(srv)
	if *quiet {
		st := srv.Engine().Stats()
		stdout.Printf("Server: accepted=%d closed=%d bytes_in=%d bytes_out=%d\n",
			st.Accepted, st.Closed, st.BytesIn, st.BytesOut)
	}
	linelog.Finish(stdout, stderr)
}

// printHooks prints the reference server's lines to out. Each runs on a
// loop, so out only queues them; one line is one entry, so lines from
// different loops do not interleave.
func printHooks(out *linelog.Writer) msgloop.ServerHooks {
	addr := func(c *loop.Conn) string { return pyfmt.Addr(c.RemoteAddr()) }
	return msgloop.ServerHooks{
		Open: func(c *loop.Conn) { out.Line("Accepted connection from " + addr(c)) },
		Request: func(c *loop.Conn, req message.Message) {
			out.Line(refapp.Received("request", req) + " from " + addr(c))
		},
		Response: func(c *loop.Conn, frame []byte) {
			out.Line("Sending " + pyfmt.Bytes(frame) + " to " + addr(c))
		},
		Close: func(c *loop.Conn, err error) { out.Line("Closing connection to " + addr(c)) },
	}
}
