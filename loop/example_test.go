package loop_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/evsel/evsel/loop"
)

// An echo server: every byte that arrives goes back. The client here is
// Go's blocking net package.
func Example() {
	echo := loop.Funcs{Data: func(c *loop.Conn) {
		c.Write(c.Inbound())        // queued; sent with one write when the callback returns
		c.Consume(len(c.Inbound())) // what is not consumed comes back with the next bytes
	}}
	e, err := loop.New(echo, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background()) // flushes pending output, then closes
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.Write([]byte("Hello, world"))
	reply := make([]byte, 12)
	io.ReadFull(conn, reply)
	fmt.Printf("%s\n", reply)
	// Output: Hello, world
}

// A client: Dial returns at once; OnOpen, OnData and OnClose tell the rest.
// The per-connection state travels with WithData.
func ExampleEngine_Dial() {
	server := echoServer()
	defer server.Close()

	type request struct {
		ask   string
		reply []byte
		done  chan struct{}
	}
	client := loop.Funcs{
		Open: func(c *loop.Conn) { c.Write([]byte(c.Data().(*request).ask)) },
		Data: func(c *loop.Conn) {
			r := c.Data().(*request)
			r.reply = append(r.reply, c.Inbound()...)
			c.Consume(len(c.Inbound()))
			if len(r.reply) == len(r.ask) {
				c.Close()
			}
		},
		Close: func(c *loop.Conn, err error) {
			r := c.Data().(*request)
			fmt.Printf("reply %q, close reason %v\n", r.reply, err)
			close(r.done)
		},
	}
	e, err := loop.New(client, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	// ctx bounds the connect only: once it is up, ctx no longer matters.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := &request{ask: "ping", done: make(chan struct{})}
	if _, err := e.Dial(ctx, "tcp", server.Addr().String(), loop.WithData(r)); err != nil {
		panic(err)
	}
	<-r.done
	// Output: reply "ping", close reason <nil>
}

// A proxy: each client's upstream is dialed on the client's own loop
// (WithLoop), so one goroutine serves both ends of the pair and each side
// writes to the other with a plain Write. Closing one end closes the
// other.
func ExampleWithLoop() {
	upstream := echoServer()
	defer upstream.Close()

	type peer struct{ other *loop.Conn }
	proxy := loop.Funcs{
		Open: func(c *loop.Conn) {
			if _, ok := c.Data().(*peer); ok {
				return // the upstream side: its client is waiting for it
			}
			p := &peer{}
			up, err := c.Loop().Engine().Dial(context.Background(), "tcp", upstream.Addr().String(),
				loop.WithLoop(c.Loop()), loop.WithData(&peer{other: c}))
			if err != nil {
				c.CloseWithError(err)
				return
			}
			p.other = up
			c.SetData(p)
		},
		Data: func(c *loop.Conn) {
			c.Data().(*peer).other.Write(c.Inbound()) // before its OnOpen too: sent once it is up
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *loop.Conn, err error) {
			if p, ok := c.Data().(*peer); ok && p.other != nil {
				p.other.Close()
			}
		},
	}
	e, err := loop.New(proxy, loop.Options{Loops: 2})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Write([]byte("through the proxy"))
	reply := make([]byte, len("through the proxy"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, reply); err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply)
	// Output: through the proxy
}

// Flow control in a proxy: while the upstream's output is over the
// proxy's mark, the client is not read (PauseReading), so the client's
// bytes wait in the kernel and TCP slows the client down; the upstream's
// OnDrained, which comes once the upstream's output is at LowWater (set
// below the mark here), resumes it. The proxy holds the mark and what the
// client's last reads brought past it, per pair, however slowly the
// upstream reads.
func ExampleConn_PauseReading() {
	const size = 4 << 20
	const mark = 64 << 10
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer upstream.Close()
	got := make(chan int64, 1)
	// small is closed once the upstream has set its buffer.
	small := make(chan struct{})
	go func() { // a slow reader: 16 MB/s at most, slower than the proxy anywhere
		c, err := upstream.Accept()
		if err != nil {
			close(small)
			got <- 0
			return
		}
		defer c.Close()
		// A small kernel buffer, so the proxy's output passes the mark
		// whatever the system's defaults: set before anything flows, as
		// the kernel will not take back a window it has offered.
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		close(small)
		var n int64
		buf := make([]byte, 64<<10)
		for {
			k, err := c.Read(buf)
			n += int64(k)
			if err != nil {
				break
			}
			time.Sleep(4 * time.Millisecond)
		}
		got <- n
	}()

	type peer struct{ other *loop.Conn }
	paused := false // the loop's own: only its callbacks touch it
	proxy := loop.Funcs{
		Open: func(c *loop.Conn) {
			if _, ok := c.Data().(*peer); ok {
				return
			}
			up, err := c.Loop().Engine().Dial(context.Background(), "tcp", upstream.Addr().String(),
				loop.WithLoop(c.Loop()), loop.WithData(&peer{other: c}))
			if err != nil {
				c.CloseWithError(err)
				return
			}
			c.SetData(&peer{other: up})
		},
		Data: func(c *loop.Conn) {
			other := c.Data().(*peer).other
			other.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
			if other.Buffered() > mark {
				paused = true
				c.PauseReading()
				other.NotifyDrained()
			}
		},
		Drained: func(c *loop.Conn) { c.Data().(*peer).other.ResumeReading() },
		Close: func(c *loop.Conn, err error) {
			if p, ok := c.Data().(*peer); ok {
				p.other.Close()
			}
		},
	}
	e, err := loop.New(proxy, loop.Options{Loops: 1, LowWater: mark / 2, SocketWriteBuffer: 64 << 10})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	<-small // the proxy has dialed the upstream, which has set its buffer
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(make([]byte, size)); err != nil {
		panic(err)
	}
	c.(*net.TCPConn).CloseWrite()
	fmt.Println("upstream got", <-got, "bytes")
	fell := make(chan bool, 1)
	e.Loops()[0].Do(func() { fell <- paused }) // read on the loop
	fmt.Println("client paused:", <-fell)
	// Output:
	// upstream got 4194304 bytes
	// client paused: true
}

// A timer: AfterFunc and Every run functions on the loop, so they may use
// the loop's connections like any callback. This server greets, then
// counts down and hangs up.
func ExampleLoop_Every() {
	countdown := loop.Funcs{Open: func(c *loop.Conn) {
		c.Write([]byte("counting down:"))
		n := 3
		var t *loop.Timer
		t = c.Loop().Every(10*time.Millisecond, func() {
			fmt.Fprintf(c, " %d", n)
			if n--; n == 0 {
				t.Stop()
				c.Close()
			}
		})
	}}
	e, err := loop.New(countdown, loop.Options{Loops: 1})
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
	all, _ := io.ReadAll(conn)
	fmt.Printf("%s\n", all)
	// Output: counting down: 3 2 1
}

// Backpressure: a peer that sends without reading cannot make the server
// buffer without bound. Once a connection's pending output passes
// HighWater the engine stops reading it, until the output drains below
// LowWater; TCP's own flow control then holds the sender.
func Example_backpressure() {
	const highWater = 64 << 10
	most := 0
	echo := loop.Funcs{Data: func(c *loop.Conn) {
		c.WriteTo(c) // echo: Conn is an io.WriterTo and an io.Writer
		most = max(most, c.Buffered())
	}}
	e, err := loop.New(echo, loop.Options{Loops: 1, HighWater: highWater, ReadBufferSize: 16 << 10})
	if err != nil {
		panic(err)
	}
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	const total = 16 << 20
	go conn.Write(make([]byte, total)) // blocks until the echo is read
	time.Sleep(100 * time.Millisecond) // and nobody reads yet: the server pauses
	n, _ := io.CopyN(io.Discard, conn, total)
	e.Stop(context.Background())
	fmt.Println("echoed:", n == total)
	fmt.Println("pending output stayed near HighWater:", most <= highWater+16<<10)
	// Output:
	// echoed: true
	// pending output stayed near HighWater: true
}

// echoServer is a plain net echo server for the client example.
func echoServer() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// Not io.Copy: on Linux that splices through pipes that Go
				// keeps cached, which the test suite's leak check reports.
				buf := make([]byte, 512)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()
	return ln
}

// IsLimit sorts close reasons in OnClose: the engine's limits, worth a line
// in an operator's log, from the peer's own closes and resets.
func ExampleIsLimit() {
	for _, reason := range []error{loop.ErrIdleTimeout, loop.ErrShed, loop.ErrMemoryBudget,
		&loop.TLSHandshakeError{Err: loop.ErrTLSHandshakeStalled}, io.EOF, loop.ErrTLSNoCloseNotify, syscall.ECONNRESET} {
		fmt.Println(loop.IsLimit(reason))
	}
	// Output:
	// true
	// true
	// true
	// true
	// false
	// false
	// false
}

// NewTimeoutError makes the error of a time limit of the application's
// own: here a server that wants a greeting within 50 ms of the accept.
// OnClose, or whatever reads the reason, knows it for a timeout the way
// code written for net does.
func ExampleNewTimeoutError() {
	errNoGreeting := loop.NewTimeoutError("app: no greeting")
	closed := make(chan error, 1)
	h := loop.Funcs{
		Open: func(c *loop.Conn) {
			c.Loop().AfterFunc(50*time.Millisecond, func() {
				c.CloseWithError(errNoGreeting) // already closed: nothing happens
			})
		},
		Close: func(c *loop.Conn, err error) { closed <- err },
	}
	e, err := loop.New(h, loop.Options{Loops: 1})
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

	err = <-closed // the client sent nothing
	var ne net.Error
	fmt.Println(err)
	fmt.Println(errors.As(err, &ne) && ne.Timeout(), os.IsTimeout(err), errors.Is(err, os.ErrDeadlineExceeded))
	// Output:
	// app: no greeting: i/o timeout
	// true true true
}
