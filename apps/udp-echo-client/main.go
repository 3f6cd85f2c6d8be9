// Command udp-echo-client is the UDP echo client of Python's socket
// documentation (sendto, then recvfrom the answer) on evsel's event-loop
// engine:
//
//	udp-echo-client [-host H] [-port P] [-timeout D] [-retries N] message…
//	udp-echo-client [-host H] [-port P] [-n N] [-size N] [-c N] [-loops N] [message…]
//
// It sends the words joined by spaces as one datagram to H:P (default
// 127.0.0.1 10000) and prints what it sent and what came back:
//
//	Sent:     hello world
//	Received: hello world
//
// With -n, -size or -c it is a load client instead: -c sockets (default 1)
// each send -n datagrams (default 1) of -size bytes (default 64; the
// message, if any, starts each one), one at a time, and check every echo
// byte for byte. It ends with one summary line:
//
//	Summary: sockets=50 datagrams=50000 bytes_sent=3200000 bytes_verified=3200000 resent=0 elapsed=1.2345s rate=40500/s errors=0
//
// UDP may lose a datagram: one not answered within -timeout (default
// 500ms) is sent again, at most -retries times (default 20); an echo that
// arrives late for an earlier datagram is recognised and ignored. It exits
// 1 if a datagram was never answered or an echo did not match, else 0.
// Ctrl-C prints "Caught keyboard interrupt, exiting" and, in load mode, the
// summary so far, and exits 0 (see apps/internal/shutdown).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/evsel/evsel/apps/internal/shutdown"
	"github.com/evsel/evsel/loop"
)

func main() {
	host := flag.String("host", "127.0.0.1", "server host")
	port := flag.Int("port", 10000, "server port")
	n := flag.Int("n", 1, "datagrams per socket (load mode)")
	size := flag.Int("size", 64, "bytes per datagram (load mode)")
	c := flag.Int("c", 1, "sockets sending at once (load mode)")
	loops := flag.Int("loops", 0, "number of event loops (default GOMAXPROCS)")
	timeout := flag.Duration("timeout", 500*time.Millisecond, "resend a datagram not answered within this")
	retries := flag.Int("retries", 20, "resends of one datagram before giving up")
	flag.Parse()
	load := false
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "n", "size", "c":
			load = true
		}
	})
	msg := strings.Join(flag.Args(), " ")
	if *n < 1 || *c < 1 || *size < 0 || *retries < 0 || *timeout <= 0 {
		fmt.Fprintln(os.Stderr, "udp-echo-client: -n and -c must be at least 1, -size and -retries not negative, -timeout positive")
		os.Exit(2)
	}
	stopped := shutdown.OnSignal()
	cfg := config{
		addr: net.JoinHostPort(*host, strconv.Itoa(*port)), sockets: *c, count: *n, size: *size,
		message: msg, exact: !load, timeout: *timeout, retries: *retries,
	}
	if !load {
		cfg.sockets, cfg.count = 1, 1
	}
	eng, err := loop.New(loop.Funcs{}, loop.Options{Loops: *loops})
	if err != nil {
		fmt.Fprintln(os.Stderr, "udp-echo-client:", err)
		os.Exit(1)
	}
	cl := newClient(cfg)
	err = cl.start(eng)
	if err == nil {
		select {
		case <-cl.done:
		case <-stopped.Done():
			fmt.Println(shutdown.Line(shutdown.Caught(stopped)))
		}
	}
	shutdown.Stop(eng)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udp-echo-client:", err)
		os.Exit(1)
	}
	if load {
		fmt.Println(cl.summary())
	} else if stopped.Err() == nil {
		fmt.Println("Sent:     " + msg)
		if got, ok := cl.received(); ok {
			fmt.Println("Received: " + got)
		}
	}
	for _, e := range cl.failures() {
		fmt.Fprintln(os.Stderr, "udp-echo-client:", e)
	}
	if stopped.Err() == nil && cl.errors() > 0 {
		os.Exit(1)
	}
}
