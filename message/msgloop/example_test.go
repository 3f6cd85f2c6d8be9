package msgloop_test

import (
	"context"
	"fmt"
	"time"

	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

// A search request served by a Server and sent by a Client, both on the
// engine. The server's HandlerFunc turns each request into its answer; the
// Server frames, reads and writes (the zero ServerConfig answers one request
// per connection, then closes, as the Python reference does). The client's
// Send returns at once and calls its function with the answer on the
// connection's loop; Do and Request are the same exchange for a caller that
// waits.
func ExampleNewServer() {
	search := func(req message.Message) (message.Message, error) {
		v, err := req.JSON()
		if err != nil {
			return message.Message{}, err // closes the connection
		}
		query, _ := v.Get("value")
		q, _ := query.Text()
		return message.NewJSONMessage(message.ObjectValue(
			message.F("result", message.StringValue("Searched for "+q+"."))))
	}
	s, err := msgloop.NewServer(search, msgloop.ServerOptions{Loop: loop.Options{Loops: 1}})
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
	req, err := message.NewJSONMessage(message.ObjectValue(
		message.F("action", message.StringValue("search")),
		message.F("value", message.StringValue("morpheus"))))
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	cc.Send(req, func(resp message.Message, err error) {
		defer close(done)
		if err != nil {
			fmt.Println("no answer:", err)
			return
		}
		fmt.Printf("%s: %s\n", resp.Header.ContentType, resp.Content)
	})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		panic("no answer in 5 s")
	}
	// Output: text/json: {"result": "Searched for morpheus."}
}
