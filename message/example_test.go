package message_test

import (
	"fmt"
	"time"

	"github.com/evsel/evsel/message"
)

// A search request goes from a client to a server and back, with no network:
// each side's machine turns messages into bytes to send and bytes received
// into messages, and the bytes are passed by hand.
func Example() {
	var client message.ClientConn
	var server message.ServerConn // the zero config: one request, then close
	now := time.Now()

	req, err := message.NewJSONMessage(message.ObjectValue(
		message.F("action", message.StringValue("search")),
		message.F("value", message.StringValue("morpheus"))))
	if err != nil {
		panic(err)
	}
	wire, err := client.Send(nil, req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", wire)

	// The first read brings only part of the frame: no request yet.
	_, n, err := server.Next(wire[:50], now)
	fmt.Println("after 50 bytes:", n, err)
	got, n, err := server.Next(wire, now)
	if err != nil {
		panic(err)
	}
	fmt.Println("request of", n, "bytes, content-type", got.Header.ContentType)

	v, err := got.JSON()
	if err != nil {
		panic(err)
	}
	query, _ := v.Get("value")
	q, _ := query.Text()
	answer, err := message.NewJSONMessage(message.ObjectValue(
		message.F("result", message.StringValue("Searched for "+q+"."))))
	if err != nil {
		panic(err)
	}
	reply, err := server.Respond(nil, answer)
	if err != nil {
		panic(err)
	}
	fmt.Println("server done:", server.Done())

	resp, _, err := client.Next(reply)
	if err != nil {
		panic(err)
	}
	result, err := resp.JSON()
	if err != nil {
		panic(err)
	}
	fmt.Println(result)
	// Output:
	// "\x00g{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": 41}{\"action\": \"search\", \"value\": \"morpheus\"}"
	// after 50 bytes: 0 <nil>
	// request of 146 bytes, content-type text/json
	// server done: true
	// {"result": "Searched for morpheus."}
}
