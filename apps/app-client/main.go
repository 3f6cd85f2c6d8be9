// Command app-client is Real Python's app-client.py on evsel: it sends one
// application-protocol request and prints the response.
//
//	app-client [-timeout D] [TLS flags] <host> <port> <action> <value>
//	app-client -n N -c C [-keepalive] [-pipeline P] [TLS flags] <host> <port> <action> <value>
//
// With action "search" the request is JSON ({"action": "search", "value":
// VALUE}); any other action is sent as binary content ACTION+VALUE. It prints
// the reference's lines: "Starting connection to ('HOST', PORT)",
// "Sending b'...' to ...", "Received response {...} from ..." and
// "Got result: ..." (or "Received CONTENT-TYPE response from ..." and
// "Got response: b'...'"), then "Closing connection to ...". It works with
// servers that close after the response (the reference) and servers that
// keep the connection open.
//
// Load mode (-n > 1) sends N requests over C connections and prints
// requests/s and latency percentiles instead. Without -keepalive every request
// has a connection of its own, as with the reference server; with it, each of
// the C connections carries its share, up to -pipeline requests in flight.
//
// SIGINT (Ctrl-C) or SIGTERM ends either mode early: it prints the line of
// apps/internal/shutdown ("Caught keyboard interrupt, exiting", as the
// reference does), in load mode the figures of the requests done so far,
// and exits 0; a second signal exits at once.
//
// TLS flags: -tls connects with TLS, verifying the server against the
// system's CAs, or those in -tls-ca FILE, for the host argument or
// -tls-server-name NAME; -tls-insecure skips the check (any -tls-* flag
// implies -tls).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/apps/internal/shutdown"
	"github.com/evsel/evsel/apps/internal/tlsflags"
	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

func main() {
	n := flag.Int("n", 1, "number of requests (load mode when > 1)")
	c := flag.Int("c", 1, "connections in load mode")
	keepAlive := flag.Bool("keepalive", false, "load mode: reuse connections (the server must keep them open)")
	pipeline := flag.Int("pipeline", 1, "load mode with -keepalive: requests in flight per connection")
	timeout := flag.Duration("timeout", 10*time.Second, "time allowed for the whole exchange (per request in load mode)")
	tlsFlags := tlsflags.RegisterClient(flag.CommandLine)
	flag.Parse()
	if flag.NArg() != 4 {
		fmt.Printf("Usage: %s <host> <port> <action> <value>\n", os.Args[0])
		os.Exit(1)
	}
	host, action, value := flag.Arg(0), flag.Arg(2), flag.Arg(3)
	port, err := strconv.Atoi(flag.Arg(1))
	if err != nil {
		fmt.Fprintf(os.Stderr, "app-client: invalid port %q\n", flag.Arg(1))
		os.Exit(1)
	}
	stopped := shutdown.OnSignal()
	address := net.JoinHostPort(host, strconv.Itoa(port))
	req := refapp.ClientRequest(action, value)
	tlsCfg, err := tlsFlags.Config()
	if err != nil {
		fmt.Fprintln(os.Stderr, "app-client:", err)
		os.Exit(1)
	}
	cl, err := msgloop.NewClient(msgloop.ClientOptions{TLS: tlsCfg})
	if err != nil {
		fmt.Fprintln(os.Stderr, "app-client:", err)
		os.Exit(1)
	}
	defer cl.Close()
	if *n > 1 {
		if err := load(stopped, cl, address, req, *n, max(*c, 1), *keepAlive, max(*pipeline, 1), *timeout); err != nil {
			fmt.Fprintln(os.Stderr, "app-client:", err)
			cl.Close()
			os.Exit(1)
		}
		return
	}
	err = once(stopped, cl, address, pyfmt.HostPort(host, port), req, *timeout)
	if stopped.Err() != nil {
		fmt.Println(shutdown.Line(shutdown.Caught(stopped)))
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "app-client:", err)
		cl.Close()
		os.Exit(1)
	}
}

// once is the reference client: one request, its answer, close.
func once(stopped context.Context, cl *msgloop.Client, address, shown string, req message.Message, timeout time.Duration) error {
	fmt.Println("Starting connection to " + shown)
	ctx, cancel := context.WithTimeout(stopped, timeout)
	defer cancel()
	cc, err := cl.Dial(ctx, "tcp", address)
	if err != nil {
		return err
	}
	frame, err := req.AppendFrame(nil)
	if err != nil {
		return err
	}
	fmt.Println("Sending " + pyfmt.Bytes(frame) + " to " + shown)
	resp, err := cc.Do(ctx, req)
	if err != nil {
		return err
	}
	if resp.Header.ContentType == message.ContentTypeJSON {
		// JSON that does not decode stops the reference before it prints
		// anything about the response.
		if _, err := resp.JSON(); err != nil {
			return err
		}
	}
	fmt.Println(refapp.Received("response", resp) + " from " + shown)
	line, err := refapp.ClientResult(resp)
	if err != nil {
		return err
	}
	fmt.Println(line)
	fmt.Println("Closing connection to " + shown)
	return cc.Close()
}

// load sends n requests over c connections and prints throughput and
// latency percentiles. Every answer is checked against the reference's.
// Once stopped ends no more requests start, and those cut short do not
// count as failures.
func load(stopped context.Context, cl *msgloop.Client, address string, req message.Message, n, c int, keepAlive bool, pipeline int, timeout time.Duration) error {
	want, err := refapp.ServerResponse(req)
	if err != nil {
		return err
	}
	wantLine, _ := refapp.ClientResult(want)
	var next atomic.Int64 // requests handed out so far
	var failed atomic.Int64
	var done atomic.Int64 // requests answered or failed, not cut short
	lat := make([][]time.Duration, c*pipeline)
	var wg sync.WaitGroup
	start := time.Now()
	var conns []*msgloop.ClientConn
	if keepAlive {
		ctx, cancel := context.WithTimeout(stopped, timeout)
		defer cancel()
		for i := 0; i < c; i++ {
			cc, err := cl.Dial(ctx, "tcp", address)
			if err != nil {
				return err
			}
			conns = append(conns, cc)
		}
	}
	for w := 0; w < c*pipeline; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for stopped.Err() == nil && next.Add(1) <= int64(n) {
				ctx, cancel := context.WithTimeout(stopped, timeout)
				t0 := time.Now()
				var resp message.Message
				var err error
				if keepAlive {
					resp, err = conns[w%c].Do(ctx, req)
				} else {
					resp, err = cl.Request(ctx, "tcp", address, req)
				}
				cancel()
				if stopped.Err() != nil {
					break
				}
				lat[w] = append(lat[w], time.Since(t0))
				done.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				if line, err := refapp.ClientResult(resp); err != nil || line != wantLine {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, cc := range conns {
		cc.Close()
	}
	if stopped.Err() != nil {
		fmt.Println(shutdown.Line(shutdown.Caught(stopped)))
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	fmt.Printf("requests=%d connections=%d keepalive=%v pipeline=%d errors=%d elapsed=%v\n",
		done.Load(), c, keepAlive, pipeline, failed.Load(), elapsed.Round(time.Millisecond))
	fmt.Printf("throughput=%.0f req/s latency p50=%v p90=%v p99=%v max=%v\n",
		float64(done.Load())/elapsed.Seconds(), pct(0.50), pct(0.90), pct(0.99), pct(1))
	if stopped.Err() != nil {
		return nil
	}
	if failed.Load() > 0 {
		return fmt.Errorf("%d of %d requests failed", failed.Load(), n)
	}
	return nil
}
