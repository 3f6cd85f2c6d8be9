// Command tcpclient is the client of the socketserver.TCPServer example of
// Python's documentation (TCPClient.py) on evsel's event-loop engine.
//
//	tcpclient [-host H] [-port P] [-timeout D] words...
//
// It joins the words with spaces, connects to H:P (default localhost:9999),
// sends the text and a newline, takes the first bytes of the answer to
// arrive (up to 1024, as the example's one recv(1024)), and prints
// "Sent:     TEXT" and "Received: ANSWER". An answer that is not UTF-8 is an
// error, as Python's str(bytes, "utf-8") raises one. Errors (a refused
// connection, a reset) go to stderr with exit status 1. -timeout bounds the
// whole exchange; the original has none, and neither has the default (0).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evsel/evsel/loop"
)

// recvSize is the example's sock.recv(1024).
const recvSize = 1024

func main() {
	host := flag.String("host", "localhost", "server host")
	port := flag.Int("port", 9999, "server port")
	timeout := flag.Duration("timeout", 0, "give up after this long (0: wait forever, as the original)")
	flag.Parse()
	data := strings.Join(flag.Args(), " ")

	received, err := exchange(*host, *port, data, *timeout)
	if err == nil && !utf8.Valid(received) {
		err = fmt.Errorf("answer is not UTF-8: %q", received)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpclient:", err)
		os.Exit(1)
	}
	fmt.Printf("Sent:     %s\n", data)
	fmt.Printf("Received: %s\n", received)
}

// exchange sends data and a newline over a connection dialed on an engine
// of one loop and returns the first chunk of the answer: empty if the server
// closed without answering, as Python's recv then returns empty bytes.
func exchange(host string, port int, data string, timeout time.Duration) ([]byte, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	h := loop.Funcs{
		Open: func(c *loop.Conn) { c.Write([]byte(data + "\n")) },
		Data: func(c *loop.Conn) {
			in := c.Inbound()
			done <- result{data: append([]byte(nil), in[:min(len(in), recvSize)]...)}
			c.Consume(len(in))
			c.Close()
		},
		Close: func(c *loop.Conn, err error) {
			if err == io.EOF {
				err = nil
			}
			select {
			case done <- result{err: err}: // no answer: b'', or the error
			default: // Data has answered
			}
		},
	}
	e, err := loop.New(h, loop.Options{Loops: 1})
	if err != nil {
		return nil, err
	}
	defer e.Stop(context.Background())
	if _, err := e.Dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
		return nil, err
	}
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, errors.New("no answer within " + timeout.String())
	}
}
