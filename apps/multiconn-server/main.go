// Command multiconn-server is Real Python's multiconn-server.py on evsel's
// event-loop engine: an echo server for many connections at once.
//
//	multiconn-server [-loops N] [-quiet] [-idle-timeout D] [-linger D] [-first-byte-timeout D] [-max-conns N]
//	                 [-max-memory BYTES] [-tls-cert FILE -tls-key FILE] <host> <port>
//	multiconn-server -systemd [flags]
//
// It prints "Listening on ('127.0.0.1', 65432)", then for each connection
// "Accepted connection from ADDR", "Echoing b'...' to ADDR" for every chunk it
// sends back, and "Closing connection to ADDR" when the peer closes. It runs
// until interrupted; Ctrl-C prints "Caught keyboard interrupt, exiting" and
// exits 0. A wrong argument count prints
// "Usage: multiconn-server <host> <port>" and exits 1.
//
// Port 0 binds a free port, and the Listening line shows the port bound.
// Flags (before the positional arguments): -loops sets the number of event
// loops (default GOMAXPROCS); -quiet drops the per-connection lines and
// prints the server's counters on exit instead; -systemd serves the
// listening sockets the process inherited (systemd socket activation, or a
// predecessor's loop.Engine.PassListeners) instead of host and port, with a
// Listening line for each.
//
// Unlike the reference it is bounded by default, so that peers cannot hold
// its descriptors forever: a connection silent since its accept for
// -first-byte-timeout (10s), or idle for -idle-timeout (60s), is closed; a
// close whose output the peer does not take is cut after -linger (10s); and
// past -max-conns connections (default the open-file limit minus 64) the
// longest-idle one is shed to admit a new one; past -max-memory bytes (256
// MiB) of input and output held by all connections together, those holding
// the most are not read, then closed. 0 turns each off.
//
// -tls-cert and -tls-key (PEM files; go run ./apps/tls-cert makes a pair)
// serve TLS instead of plaintext (loop.Engine.ListenTLS); the lines are the
// same, with the plaintext echoed.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/evsel/evsel/apps/internal/activation"
	"github.com/evsel/evsel/apps/internal/bounds"
	"github.com/evsel/evsel/apps/internal/driverflag"
	"github.com/evsel/evsel/apps/internal/linelog"
	"github.com/evsel/evsel/apps/internal/multiconn"
	"github.com/evsel/evsel/apps/internal/shutdown"
	"github.com/evsel/evsel/apps/internal/tlsflags"
	"github.com/evsel/evsel/loop"
)

func main() {
	loops := flag.Int("loops", 0, "number of event loops (default GOMAXPROCS)")
	quiet := flag.Bool("quiet", false, "do not print a line per connection event")
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
			fmt.Fprintf(os.Stderr, "multiconn-server: invalid port %q\n", flag.Arg(1))
			os.Exit(1)
		}
	}

	// Catch Ctrl-C from the start, as Python's KeyboardInterrupt would.
	stopped := shutdown.OnSignal()

	// The loops print through queues, so that a stdout nobody reads drops
	// lines instead of stopping the server.
	stdout, stderr := linelog.New(os.Stdout, 0, 0), linelog.New(os.Stderr, 0, 0)
	// Lines of connections accepted before the Listening line is printed
	// wait for it, so the output starts like Python's.
	out := multiconn.NewPrinter(stdout)
	out.Hold()
	srv := &multiconn.Server{Err: multiconn.NewPrinter(stderr)}
	if !*quiet {
		srv.Out = out
	}
	fail := func(err error) { linelog.Fail("multiconn-server", stdout, stderr, err) }
	opts := loop.Options{Loops: *loops}
	limits.Apply(&opts)
	driverflag.Apply(drv, &opts)
	eng, err := loop.New(srv, opts)
	if err != nil {
		fail(err)
	}
	tlsCfg, err := tlsFlags.Config()
	if err != nil {
		fail(err)
	}
	shown, err := activation.Listen(eng, *inherited, host, port, tlsCfg)
	if err != nil {
		fail(err)
	}
	out.Release("Listening on " + strings.Join(shown, "\nListening on "))

	<-stopped.Done()
	out.Line(shutdown.Line(shutdown.Caught(stopped)))
	shutdown.Stop(eng)
	if *quiet {
		st, es := srv.Stats(), eng.Stats()
		stdout.Printf("Server: accepted=%d closed=%d bytes_echoed=%d errors=%d reads=%d writes=%d\n",
			st.Accepted, st.Closed, st.BytesEchoed, st.Errors, es.Reads, es.Writes)
	}
	linelog.Finish(stdout, stderr)
}
