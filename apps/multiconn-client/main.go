// Command multiconn-client is Real Python's multiconn-client.py on evsel's
// event-loop engine:
//
//	multiconn-client [-loops N] [-messages N] [-size N] [-quiet]
//	                 [-tls] [-tls-ca FILE] [-tls-insecure] [-tls-server-name NAME] <host> <port> <num_connections>
//
// It opens num_connections connections (Engine.Dial each), printing
// "Starting connection 1 to ('127.0.0.1', 65432)". Each connection sends
// "Message 1 from client." and "Message 2 from client." ("Sending b'...' to
// connection 1"), prints what comes back ("Received b'...' from connection
// 1"), and closes ("Closing connection 1") once it has received as many bytes
// as it sent, or on EOF. The program exits when no connection is left.
//
// Unlike the Python client it checks every byte that comes back against what
// it sent, and ends with one summary line:
//
//	Summary: connections=1 completed=1 messages=2 bytes_sent=44 bytes_verified=44 elapsed=0.0012s throughput=0.04MB/s errors=0
//
// It exits 1 if any connection failed (refused, reset, a mismatch, or closed
// before everything came back), else 0. A wrong argument count prints
// "Usage: multiconn-client <host> <port> <num_connections>" and exits 1;
// Ctrl-C prints "Caught keyboard interrupt, exiting" (SIGTERM "Caught
// SIGTERM, exiting") and the summary so far, and exits 0; a second signal
// exits at once (see apps/internal/shutdown).
//
// Flags (before the positional arguments): -loops sets the number of event
// loops; -messages the messages per connection (default 2, "Message N from
// client."); -size sends random payloads of that many bytes instead; -quiet
// prints only the summary and errors. -tls connects with TLS
// (loop.WithTLS), verifying the server against the system's CAs, or those
// in -tls-ca, for the host argument or -tls-server-name; -tls-insecure skips
// the check (any -tls-* flag implies -tls).
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/evsel/evsel/apps/internal/linelog"
	"github.com/evsel/evsel/apps/internal/multiconn"
	"github.com/evsel/evsel/apps/internal/shutdown"
	"github.com/evsel/evsel/apps/internal/tlsflags"
	"github.com/evsel/evsel/loop"
)

func main() {
	loops := flag.Int("loops", 0, "number of event loops (default GOMAXPROCS)")
	messages := flag.Int("messages", 2, "messages per connection")
	size := flag.Int("size", 0, "bytes per message, random payloads (default: the Python client's messages)")
	quiet := flag.Bool("quiet", false, "print only the summary and errors")
	tlsFlags := tlsflags.RegisterClient(flag.CommandLine)
	flag.Parse()
	if flag.NArg() != 3 {
		fmt.Printf("Usage: %s <host> <port> <num_connections>\n", os.Args[0])
		os.Exit(1)
	}
	host := flag.Arg(0)
	port, err1 := strconv.Atoi(flag.Arg(1))
	n, err2 := strconv.Atoi(flag.Arg(2))
	if err1 != nil || err2 != nil || port < 0 || port > 65535 || n < 0 {
		fmt.Fprintf(os.Stderr, "multiconn-client: invalid port %q or number of connections %q\n", flag.Arg(1), flag.Arg(2))
		os.Exit(1)
	}

	tlsCfg, err := tlsFlags.Config()
	if err != nil {
		fmt.Fprintln(os.Stderr, "multiconn-client:", err)
		os.Exit(1)
	}
	stopped := shutdown.OnSignal()

	// The loops print through queues: a stdout nobody reads drops lines
	// instead of stalling them.
	stdout, stderr := linelog.New(os.Stdout, 0, 0), linelog.New(os.Stderr, 0, 0)
	cfg := multiconn.ClientConfig{
		Messages: *messages,
		Size:     *size,
		Err:      multiconn.NewPrinter(stderr),
		TLS:      tlsCfg,
	}
	if !*quiet {
		cfg.Out = multiconn.NewPrinter(stdout)
	}
	cl := multiconn.NewClient(cfg)
	eng, err := loop.New(cl, loop.Options{Loops: *loops})
	if err != nil {
		stderr.Println("multiconn-client:", err)
		linelog.Finish(stdout, stderr)
		os.Exit(1)
	}
	cl.Start(eng, host, port, n)

	interrupted := false
	select {
	case <-cl.Done():
	case <-stopped.Done():
		stdout.Line(shutdown.Line(shutdown.Caught(stopped)))
		interrupted = true
	}
	shutdown.Stop(eng)
	res := cl.Result()
	stdout.Line(res.Summary())
	linelog.Finish(stdout, stderr)
	if !interrupted && !res.OK() {
		os.Exit(1)
	}
}
