package loop_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/evsel/evsel/loop"
)

// A file server: each request line is a file's name, and the answer is its
// length on a line, then its bytes, sent with SendFile (sendfile(2) on
// Linux's epoll driver: the bytes never pass through the process). The file
// may be closed as soon as SendFile returns.
func ExampleConn_SendFile() {
	tmp, err := os.CreateTemp("", "evsel-example-")
	if err != nil {
		panic(err)
	}
	defer os.Remove(tmp.Name())
	tmp.WriteString("Hello from a file\n")
	tmp.Close()

	files := loop.Funcs{Data: func(c *loop.Conn) {
		i := bytes.IndexByte(c.Inbound(), '\n')
		if i < 0 {
			return // not a whole line yet: it stays in Inbound
		}
		name := string(c.Inbound()[:i])
		c.Consume(i + 1)
		f, err := os.Open(name)
		if err != nil {
			c.Write([]byte("-1\n"))
			return
		}
		defer f.Close()
		st, _ := f.Stat()
		c.Write([]byte(strconv.FormatInt(st.Size(), 10) + "\n"))
		c.SendFile(f, 0, st.Size())
	}}
	e, err := loop.New(files, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s\n", tmp.Name())
	r := bufio.NewReader(conn)
	size, _ := r.ReadString('\n')
	n, _ := strconv.Atoi(size[:len(size)-1])
	body := make([]byte, n)
	io.ReadFull(r, body)
	fmt.Printf("%d bytes: %s", n, body)
	// Output: 18 bytes: Hello from a file
}
