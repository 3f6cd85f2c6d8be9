// Command loadgen is the benchmark's load generator, run by the bench
// command (`cd bench && go run .`) in a process of its own (pinned to other
// cores than the server).
//
// It opens -conns connections with the standard net package (one goroutine
// per connection, two when -depth > 1: a blocking closed loop is what real
// clients do, and it keeps the generator simple and neutral between the
// servers), runs the closed loop through -warmup, then measures for
// -measure. It prints "measure-start" and "measure-end" on stderr at the
// edges of the measured window, so the caller can sample the server's CPU
// time over exactly that window, and the result as one JSON object on
// stdout. With -ack it waits, after "measure-end", for a line on stdin
// before it stops the load, so the caller's last sample of the server is
// taken while the load is still on.
//
// With -idle it instead opens -conns connections, prints "idle-ready N" on
// stderr and holds them, sending nothing, until its standard input closes
// (or -hold passes); then it prints {"connected":N,"errors":E} on stdout.
//
// With -tls every connection is a TLS client (handshake done before the
// warm-up, or before idle-ready).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/evsel/evsel/bench/internal/load"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "server address")
	conns := flag.Int("conns", 64, "connections")
	size := flag.Int("size", 64, "echo message size in bytes")
	depth := flag.Int("depth", 1, "requests in flight per connection")
	workload := flag.String("workload", "echo", "echo, app or udp (-conns UDP sockets echoing -size datagrams)")
	warmup := flag.Duration("warmup", time.Second, "warm-up before the measured window")
	measure := flag.Duration("measure", 3*time.Second, "measured window")
	dialConc := flag.Int("dial-concurrency", 128, "connects in flight at once")
	idle := flag.Bool("idle", false, "open -conns idle connections and hold them until stdin closes")
	hold := flag.Duration("hold", 2*time.Minute, "with -idle, the longest time to hold the connections")
	ack := flag.Bool("ack", false, "after measure-end, keep the load on until a line arrives on stdin (at most 30s)")
	useTLS := flag.Bool("tls", false, "connect with TLS (the server's certificate is not verified: the benchmark's servers make theirs at start-up)")
	flag.Parse()
	var tlsCfg *tls.Config
	if *useTLS {
		tlsCfg = &tls.Config{InsecureSkipVerify: true}
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	// Events go to stderr unbuffered, one line each, as they happen.
	event := func(s string) { fmt.Fprintln(os.Stderr, s) }
	out := json.NewEncoder(os.Stdout)

	if *idle {
		hctx, hcancel := context.WithTimeout(ctx, *hold)
		defer hcancel()
		go func() {
			io.Copy(io.Discard, bufio.NewReader(os.Stdin))
			hcancel()
		}()
		n, errs, samples := load.Idle(hctx, *addr, *conns, tlsCfg, func(n int) { event(fmt.Sprintf("idle-ready %d", n)) })
		out.Encode(map[string]any{"connected": n, "errors": errs, "error_samples": samples})
		return
	}

	if *workload == "udp" {
		runUDP(ctx, *addr, *conns, *size, *depth, *warmup, *measure, *ack, event, out)
		return
	}
	var wl load.Workload
	switch *workload {
	case "echo":
		wl = load.NewEcho(*size)
	case "app":
		a, err := load.NewApp()
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		wl = a
	default:
		fmt.Fprintf(os.Stderr, "loadgen: unknown workload %q\n", *workload)
		os.Exit(2)
	}
	if *ack {
		event = awaitingAck(event)
	}
	res, err := load.Run(ctx, load.Config{
		Addr: *addr, Conns: *conns, Depth: *depth, Warmup: *warmup, Measure: *measure,
		DialConcurrency: *dialConc, Workload: wl, Event: event, TLS: tlsCfg,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if err := out.Encode(res); err != nil {
		os.Exit(1)
	}
}

// runUDP is the udp workload: -conns connected UDP sockets, -depth
// datagrams of -size bytes in flight on each (see load.RunUDP).
func runUDP(ctx context.Context, addr string, conns, size, depth int, warmup, measure time.Duration,
	ack bool, event func(string), out *json.Encoder) {
	if ack {
		event = awaitingAck(event)
	}
	res, err := load.RunUDP(ctx, load.Config{
		Addr: addr, Conns: conns, Depth: depth, Warmup: warmup, Measure: measure, Event: event,
	}, size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if err := out.Encode(res); err != nil {
		os.Exit(1)
	}
}

// awaitingAck wraps event so that, after "measure-end", loadgen waits for
// a line on stdin (at most 30 s) before it stops the load: the harness
// reads the server's counters while the load is still on (-ack).
func awaitingAck(event func(string)) func(string) {
	stdin := bufio.NewReader(os.Stdin)
	return func(s string) {
		event(s)
		if s == "measure-end" {
			got := make(chan struct{})
			go func() {
				stdin.ReadString('\n')
				close(got)
			}()
			select {
			case <-got:
			case <-time.After(30 * time.Second):
			}
		}
	}
}
