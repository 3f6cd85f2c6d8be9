// Command udp-echo-server is the UDP echo server of Python's socket
// documentation (recvfrom, then sendto the sender) on evsel's event-loop
// engine:
//
//	udp-echo-server [-loops N] [-verbose] [-max-queue N] [-max-queue-bytes N] [-systemd] [host port]
//
// It binds host and port (default 127.0.0.1 10000; port 0 picks a free
// one), prints "Listening on ('127.0.0.1', 10000)", and sends every
// datagram back to its sender. -verbose prints "Echoing N bytes to ADDR"
// for each. On Linux every loop has its own SO_REUSEPORT socket. With
// -systemd it serves the datagram sockets it inherited from systemd's
// socket activation (LISTEN_FDS) or a predecessor instead, and prints a
// Listening line for each.
//
// It is bounded: the replies a loop holds unsent while the send buffer is
// full are limited by -max-queue datagrams and -max-queue-bytes bytes
// (defaults 4096 and 4 MiB); past them a reply is dropped, as the network
// may drop it. The connection bounds of the TCP servers do not apply to a
// socket without connections.
//
// SIGINT (Ctrl-C) or SIGTERM stops it gracefully: it prints "Caught
// keyboard interrupt, exiting" (or "Caught SIGTERM, exiting"), sends what
// is queued, prints one line of counters and exits 0 (see
// apps/internal/shutdown). A wrong argument count prints
// "Usage: udp-echo-server [host port]" and exits 1.
package main

import (
	"flag"
	"fmt"
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

func main() {
	loops := flag.Int("loops", 0, "number of event loops (default GOMAXPROCS)")
	verbose := flag.Bool("verbose", false, "print a line per datagram")
	limits := bounds.RegisterPacket(flag.CommandLine)
	drv := driverflag.Register(flag.CommandLine)
	inherited := activation.Register(flag.CommandLine)
	flag.Parse()
	host, port := "127.0.0.1", "10000"
	switch flag.NArg() {
	case 0:
	case 2:
		host, port = flag.Arg(0), flag.Arg(1)
	default:
		fmt.Printf("Usage: %s [host port]\n", os.Args[0])
		os.Exit(1)
	}
	stopped := shutdown.OnSignal()

	// Lines go through a queue, so that a stdout nobody reads drops lines
	// rather than stopping the loops.
	stdout, stderr := linelog.New(os.Stdout, 0, 0), linelog.New(os.Stderr, 0, 0)
	fail := func(err error) { linelog.Fail("udp-echo-server", stdout, stderr, err) }
	opts := loop.Options{Loops: *loops}
	limits.Apply(&opts)
	driverflag.Apply(drv, &opts)
	eng, err := loop.New(loop.Funcs{}, opts)
	if err != nil {
		fail(err)
	}
	echo := loop.PacketFunc(func(pc *loop.PacketConn, data []byte, from loop.PacketAddr) {
		if *verbose {
			stdout.Println("Echoing " + strconv.Itoa(len(data)) + " bytes to " + peer(from))
		}
		pc.WriteTo(data, from)
	})
	if *inherited {
		// Socket activation: serve the datagram sockets systemd (or a
		// predecessor) passed, instead of binding host and port.
		addrs, err := eng.ServeInherited(echo)
		if err != nil {
			fail(err)
		}
		for _, a := range addrs {
			stdout.Println("Listening on " + pyfmt.Addr(a))
		}
	} else {
		addr, err := eng.ListenPacket("udp", net.JoinHostPort(host, port), echo)
		if err != nil {
			fail(err)
		}
		p, _ := strconv.Atoi(port)
		if a, ok := addr.(*net.UDPAddr); ok {
			p = a.Port
		}
		stdout.Println("Listening on " + pyfmt.HostPort(host, p))
	}

	<-stopped.Done()
	stdout.Println(shutdown.Line(shutdown.Caught(stopped)))
	shutdown.Stop(eng)
	st := eng.Stats()
	stdout.Printf("Server: datagrams_in=%d datagrams_out=%d bytes_in=%d bytes_out=%d dropped=%d truncated=%d\n",
		st.DatagramsIn, st.DatagramsOut, st.BytesIn, st.BytesOut, st.DatagramsDropped, st.DatagramsTruncated)
	linelog.Finish(stdout, stderr)
}

// peer is a sender's address as Python prints it: ('127.0.0.1', 50000).
func peer(a loop.PacketAddr) string {
	if a.AddrPort.IsValid() {
		return pyfmt.HostPort(a.AddrPort.Addr().Unmap().String(), int(a.AddrPort.Port()))
	}
	return "'" + a.Path + "'"
}
