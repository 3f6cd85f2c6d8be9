// Package serve holds what the benchmark's server programs share: their
// command line, the line that tells the orchestrator they are ready, and
// the accept loop of the goroutine-per-connection servers.
package serve

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// Flags are the options every benchmark server takes.
type Flags struct {
	Addr      string // host:port to listen on
	Cores     int    // event loops, or GOMAXPROCS for goroutine-per-connection
	ReusePort bool   // one SO_REUSEPORT listener per loop (engines only)
	Driver    string // evsel's loop driver: "epoll", "poll", "io_uring" ("": the default)
}

// Parse reads the command line and sets GOMAXPROCS to -cores, so every
// server, whatever its model, gets the same number of cores to run Go code.
func Parse() Flags {
	var f Flags
	flag.StringVar(&f.Addr, "addr", "127.0.0.1:9000", "address to listen on")
	flag.IntVar(&f.Cores, "cores", 1, "event loops (engines) or GOMAXPROCS (goroutine per connection)")
	flag.BoolVar(&f.ReusePort, "reuseport", true, "engines: every loop accepts on its own SO_REUSEPORT listener")
	flag.StringVar(&f.Driver, "driver", "", "evsel servers: loop driver, epoll, poll or io_uring (default: the engine's)")
	flag.Parse()
	if f.Cores < 1 {
		f.Cores = 1
	}
	runtime.GOMAXPROCS(f.Cores)
	go commands()
	return f
}

// commands serves the orchestrator's requests on stdin (nothing, unless it
// gives the server a pipe): "gc" collects garbage and returns free memory
// to the OS, then answers "gc-done" on stdout, so the idle-memory test can
// tell live memory from garbage the collector has not got to yet.
func commands() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "gc" {
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Fprintln(os.Stdout, "gc-done")
		}
	}
}

// Ready tells the orchestrator the server accepts connections on addr.
func Ready(addr string) {
	fmt.Fprintf(os.Stdout, "listening %s\n", addr)
}

// Fatal reports err and exits.
func Fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// GoroutinePerConn is the main loop of the goroutine-per-connection servers:
// listen on f.Addr, report ready, and run handle on its own goroutine for
// every accepted connection. Accept errors other than a closed listener
// (out of descriptors, say) back off briefly rather than spin.
func GoroutinePerConn(f Flags, handle func(net.Conn)) {
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		Fatal(err)
	}
	Ready(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}
