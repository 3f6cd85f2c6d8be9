package msgloop_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

// Request is the reference client's whole exchange in one call: connect,
// send, read one response, close. It waits, so it is for goroutines other
// than the client's loops; ctx bounds it all. The server is the zero
// ServerOptions's, which answers one request per connection, as the
// Python reference does.
func ExampleClient_Request() {
	length := func(req message.Message) (message.Message, error) {
		v, err := req.JSONPick("value")
		if err != nil {
			return message.Message{}, err
		}
		s, _ := v.Get("value")
		text, _ := s.Text()
		return message.NewJSONMessage(message.ObjectValue(
			message.F("result", message.StringValue(fmt.Sprintf("%d bytes", len(text))))))
	}
	s, err := msgloop.NewServer(length, msgloop.ServerOptions{Loop: loop.Options{Loops: 1}})
	if err != nil {
		panic(err)
	}
	defer s.Stop(context.Background())
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	cl, err := msgloop.NewClient(msgloop.ClientOptions{Loop: loop.Options{Loops: 1}})
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	req, err := message.NewJSONMessage(message.ObjectValue(
		message.F("action", message.StringValue("count")),
		message.F("value", message.StringValue("morpheus"))))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, "tcp", addr.String(), req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", resp.Content)
	// Output: {"result": "8 bytes"}
}

// Many requests on one connection: a server with KeepAlive leaves the
// connection open after each answer, and the client's Do sends a request
// and waits for its answer (Send is the same without the wait, its answer
// given to a function on the connection's loop). Do is for goroutines
// other than the client's loops; ctx bounds each exchange, and one
// abandoned on ctx leaves the connection usable.
func ExampleClientConn_Do() {
	var served int // the handler runs on the server's only loop
	count := func(req message.Message) (message.Message, error) {
		served++
		return message.NewJSONMessage(message.ObjectValue(
			message.F("result", message.IntValue(int64(served)))))
	}
	s, err := msgloop.NewServer(count, msgloop.ServerOptions{
		Loop:         loop.Options{Loops: 1},
		ServerConfig: message.ServerConfig{KeepAlive: true},
	})
	if err != nil {
		panic(err)
	}
	defer s.Stop(context.Background())
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	cl, err := msgloop.NewClient(msgloop.ClientOptions{Loop: loop.Options{Loops: 1}, DialTimeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	cc, err := cl.Dial(context.Background(), "tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	req, err := message.NewJSONMessage(message.ObjectValue(message.F("action", message.StringValue("count"))))
	if err != nil {
		panic(err)
	}
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cc.Do(ctx, req)
		cancel()
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s\n", resp.Content)
	}
	fmt.Println("connections accepted:", s.Engine().Stats().Accepted)
	// Output:
	// {"result": 1}
	// {"result": 2}
	// {"result": 3}
	// connections accepted: 1
}

// A server that takes requests and never answers holds them only until
// ResponseTimeout passes (30 s unless set): then the connection is cut
// and every request waiting on it fails with ErrResponseTimeout.
func ExampleClientOptions_responseTimeout() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() { // reads whatever comes, answers nothing
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()

	cl, err := msgloop.NewClient(msgloop.ClientOptions{
		Loop:            loop.Options{Loops: 1},
		ResponseTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc, err := cl.Dial(ctx, "tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	req := message.NewBinaryMessage("binary/custom-client-binary-type", []byte("anyone there?"))
	failed := make(chan error, 1)
	cc.Send(req, func(_ message.Message, err error) { failed <- err })
	err = <-failed
	fmt.Println(err)
	fmt.Println(errors.Is(err, msgloop.ErrResponseTimeout), errors.Is(err, os.ErrDeadlineExceeded))
	// Output:
	// msgloop: no response within the response timeout: i/o timeout
	// true true
}
