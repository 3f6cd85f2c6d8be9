// Command demo shows evsel's event-loop engine at work, with nothing to set
// up:
//
//	go run ./apps/demo [-conns 1000] [-messages 20] [-size 4096] [-loops N] [-tls]
//
// It starts the multiconn echo server (the engine, Engine.Listen) on a free
// loopback port inside the process, then a client engine opens -conns
// concurrent connections to it (Engine.Dial), sends -messages random
// payloads of -size bytes on each, and checks every echoed byte against what
// it sent. It prints the connections, messages, bytes verified, throughput,
// the error count and both engines' Stats, and exits 0 only if every
// connection completed with every byte verified and the server's counters
// agree. Ctrl-C or SIGTERM cuts it short: it prints the line of
// apps/internal/shutdown and what was done so far, and exits 0; a second
// signal exits at once.
//
// -tls runs it all over TLS (Engine.ListenTLS, loop.WithTLS) with a
// self-signed certificate made in memory; the engines' byte counts then
// include the handshakes and the records' overhead.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/evsel/evsel/apps/internal/linelog"
	"github.com/evsel/evsel/apps/internal/multiconn"
	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/apps/internal/shutdown"
	"github.com/evsel/evsel/apps/internal/tlsflags"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/selector"
)

func main() {
	conns := flag.Int("conns", 1000, "concurrent client connections")
	messages := flag.Int("messages", 20, "messages per connection")
	size := flag.Int("size", 4096, "bytes per message (random payloads)")
	loops := flag.Int("loops", 0, "event loops per engine (default GOMAXPROCS)")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	useTLS := flag.Bool("tls", false, "run over TLS, with a certificate made in memory")
	flag.Parse()
	if flag.NArg() != 0 || *conns < 0 || *messages < 1 || *size < 1 {
		flag.Usage()
		os.Exit(2)
	}
	stopped := shutdown.OnSignal()
	// Connection errors are printed from the loops: through a queue.
	errs := linelog.New(os.Stderr, 0, 0)
	problems := run(stopped, errs, *conns, *messages, *size, *loops, *timeout, *useTLS)
	linelog.Finish(nil, errs)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("FAILED:", p)
		}
		os.Exit(1)
	}
}

func stop(e *loop.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.Stop(ctx)
}

func statsLine(s loop.Stats) string {
	return fmt.Sprintf("accepted=%d dialed=%d open=%d closed=%d bytes_in=%d bytes_out=%d reads=%d writes=%d",
		s.Accepted, s.Dialed, s.Open, s.Closed, s.BytesIn, s.BytesOut, s.Reads, s.Writes)
}

// run does the demo and returns what went wrong; nothing if stopped ends
// it early.
func run(stopped context.Context, errOut *linelog.Writer, conns, messages, size, loops int, timeout time.Duration, useTLS bool) (problems []string) {
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	opts := loop.Options{Loops: loops}
	errs := multiconn.NewPrinter(errOut)

	srv := &multiconn.Server{Err: errs}
	srvEng, err := loop.New(srv, opts)
	if err != nil {
		fail("server engine: %v", err)
		return
	}
	defer stop(srvEng)
	var srvTLS, cliTLS *tls.Config
	if useTLS {
		if srvTLS, cliTLS, err = tlsflags.InMemory("127.0.0.1"); err != nil {
			fail("certificate: %v", err)
			return
		}
	}
	var addr net.Addr
	if useTLS {
		addr, err = srvEng.ListenTLS("tcp", "127.0.0.1:0", srvTLS)
	} else {
		addr, err = srvEng.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		fail("listen: %v", err)
		return
	}
	port := addr.(*net.TCPAddr).Port

	cl := multiconn.NewClient(multiconn.ClientConfig{Messages: messages, Size: size, Err: errs, TLS: cliTLS})
	cliEng, err := loop.New(cl, opts)
	if err != nil {
		fail("client engine: %v", err)
		return
	}
	defer stop(cliEng)

	backend := "?"
	if sel, err := selector.New(); err == nil {
		backend = sel.Backend()
		sel.Close()
	}
	n := srvEng.Options().Loops
	fmt.Printf("evsel demo: multiconn echo, server and clients on the loop engine (%d loops each, %s)\n", n, backend)
	fmt.Printf("server:      listening on %s\n", pyfmt.HostPort("127.0.0.1", port))
	fmt.Printf("clients:     %d connections x %d messages x %d random bytes\n", conns, messages, size)
	if useTLS {
		fmt.Println("tls:         on, self-signed certificate made in memory")
	}

	cl.Start(cliEng, "127.0.0.1", port, conns)
	interrupted := false
	select {
	case <-cl.Done():
	case <-time.After(timeout):
		fail("timed out after %v", timeout)
	case <-stopped.Done():
		fmt.Println(shutdown.Line(shutdown.Caught(stopped)))
		interrupted = true
		// Stopping the engines mid-transfer resets the connections; the
		// errors that follow are the stop's, not worth a line each.
		errOut.Close(linelog.FlushTimeout)
	}
	res := cl.Result()
	// The server sees each close a moment after the client: wait for it so
	// its counters are final.
	deadline := time.Now().Add(5 * time.Second)
	for !interrupted && srv.Stats().Closed < srv.Stats().Accepted && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop(cliEng)
	stop(srvEng)
	ss, se, ce := srv.Stats(), srvEng.Stats(), cliEng.Stats()

	secs := res.Elapsed.Seconds()
	fmt.Printf("connections: %d opened, %d completed, %d failed\n", res.Opened, res.Completed, res.Errors)
	fmt.Printf("messages:    %d sent and echoed\n", res.Messages)
	fmt.Printf("bytes:       %d sent, %d verified byte for byte\n", res.BytesSent, res.BytesVerified)
	fmt.Printf("elapsed:     %.3fs, %.1f MB/s each way, %.0f messages/s\n",
		secs, res.Throughput()/1e6, float64(res.Messages)/max(secs, 1e-9))
	fmt.Printf("errors = %d\n", res.Errors)
	fmt.Printf("server:      %s\n", statsLine(se))
	fmt.Printf("client:      %s\n", statsLine(ce))

	if interrupted {
		return nil // the summary is all there is to say
	}
	want := int64(conns) * int64(messages) * int64(size)
	if res.Errors != 0 {
		fail("%d connections failed: %v", res.Errors, res.FirstErrors)
	}
	if res.Completed != int64(conns) || res.BytesVerified != want || res.BytesSent != want {
		fail("%d of %d connections completed, %d of %d bytes verified", res.Completed, conns, res.BytesVerified, want)
	}
	// Over TLS the engine counts ciphertext and handshakes: more than want.
	wire := func(n int64) bool { return n == want || useTLS && n >= want }
	if ss.Accepted != int64(conns) || ss.BytesEchoed != want || !wire(se.BytesIn) || !wire(se.BytesOut) || ss.Errors != 0 {
		fail("server accepted %d, echoed %d bytes (in %d, out %d), %d errors", ss.Accepted, ss.BytesEchoed, se.BytesIn, se.BytesOut, ss.Errors)
	}
	if ce.Dialed != int64(conns) || ce.Open != 0 || se.Open != 0 {
		fail("client dialed %d, still open: client %d, server %d", ce.Dialed, ce.Open, se.Open)
	}
	if len(problems) == 0 {
		fmt.Println("OK")
	}
	return problems
}
