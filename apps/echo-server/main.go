// Command echo-server is the first program of Real Python's socket
// tutorial (echo-server.py), on evsel's blocking sockets:
//
//	echo-server [host] [port]
//
// It listens on host and port (default 127.0.0.1 65432), accepts one
// connection, prints "Connected by ('127.0.0.1', 54321)", sends back every
// chunk of up to 1024 bytes it reads until the peer closes, and exits.
//
// SIGINT (Ctrl-C) or SIGTERM prints the line of apps/internal/shutdown
// ("Caught keyboard interrupt, exiting") and exits 0 at once: a blocking
// server has nothing to drain.
//
// It uses evsel.Socket in blocking mode (SetBlocking(true)) rather than the
// net package, to show the OS layer the event loop is built on.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/evsel/evsel/apps/internal/blocking"
	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/apps/internal/shutdown"
)

func main() {
	host, port := "127.0.0.1", "65432"
	args := os.Args[1:]
	if len(args) > 2 {
		fmt.Printf("Usage: %s [host] [port]\n", os.Args[0])
		os.Exit(1)
	}
	if len(args) > 0 {
		host = args[0]
	}
	if len(args) > 1 {
		port = args[1]
	}
	stopped := shutdown.OnSignal()
	go func() {
		<-stopped.Done()
		fmt.Println(shutdown.Line(shutdown.Caught(stopped)))
		os.Exit(0)
	}()
	if err := serve(host, port); err != nil {
		fmt.Fprintln(os.Stderr, "echo-server:", err)
		os.Exit(1)
	}
}

func serve(host, port string) error {
	s, addr, err := blocking.Socket(host, port)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Bind(addr); err != nil {
		return err
	}
	if err := s.Listen(0); err != nil {
		return err
	}
	conn, peer, err := s.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	// Accepted sockets come back non-blocking; this program blocks.
	if err := conn.SetBlocking(true); err != nil {
		return err
	}
	fmt.Println("Connected by " + pyfmt.Addr(peer))
	buf := make([]byte, 1024)
	for {
		n, err := conn.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := blocking.SendAll(conn, buf[:n]); err != nil {
			return err
		}
	}
}
