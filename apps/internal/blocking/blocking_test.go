package blocking

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
)

func TestConnectSendAll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	s, addr, err := Socket("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := Connect(s, addr); err != nil {
		t.Fatal(err)
	}
	// More than a socket buffer, so SendAll must block and loop.
	msg := bytes.Repeat([]byte("evsel "), 1<<20)
	if err := SendAll(s, msg); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if b := <-got; !bytes.Equal(b, msg) {
		t.Fatalf("server got %d bytes, want %d", len(b), len(msg))
	}
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	s, addr, err := Socket("127.0.0.1", port)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := Connect(s, addr); err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
}
