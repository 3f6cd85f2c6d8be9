// Command echo-client is the client of Real Python's first socket example
// (echo-client.py), on evsel's blocking sockets:
//
//	echo-client [host] [port]
//
// It connects to host and port (default 127.0.0.1 65432), sends
// "Hello, world", reads one reply of up to 1024 bytes and prints it as
// Python would: Received b'Hello, world'.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/evsel/evsel/apps/internal/blocking"
	"github.com/evsel/evsel/apps/internal/pyfmt"
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
	data, err := exchange(host, port, []byte("Hello, world"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-client:", err)
		os.Exit(1)
	}
	fmt.Println("Received " + pyfmt.Bytes(data))
}

// exchange sends msg and returns the one reply read (empty if the server
// closed at once: Python's recv then returns empty bytes).
func exchange(host, port string, msg []byte) ([]byte, error) {
	s, addr, err := blocking.Socket(host, port)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := blocking.Connect(s, addr); err != nil {
		return nil, err
	}
	if err := blocking.SendAll(s, msg); err != nil {
		return nil, err
	}
	buf := make([]byte, 1024)
	n, err := s.Read(buf)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}
