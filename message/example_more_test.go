package message_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/evsel/evsel/message"
)

// A Decoder frames a byte stream however it arrives: here two messages,
// sent back to back, come in three reads that cut the second one short.
// The caller owns the buffer; Decode says how many bytes a whole message
// took, and returns 0 with no error while the next one is incomplete. The
// Content it returns points into the buffer, so it is used (or copied)
// before those bytes are dropped.
func ExampleDecoder() {
	var stream []byte
	for _, text := range []string{"first", "second"} {
		var err error
		stream, err = message.NewBinaryMessage("text/plain", []byte(text)).AppendFrame(stream)
		if err != nil {
			panic(err)
		}
	}
	reads := [][]byte{stream[:10], stream[10 : len(stream)-3], stream[len(stream)-3:]}

	var d message.Decoder
	var buf []byte // received, not yet consumed
	for i, r := range reads {
		buf = append(buf, r...)
		for {
			m, n, err := d.Decode(buf)
			if err != nil {
				panic(err) // malformed: close the connection
			}
			if n == 0 {
				if len(buf) > 0 {
					fmt.Printf("read %d: part of a message, kept for the next read\n", i+1)
				}
				break
			}
			fmt.Printf("read %d: %s %q\n", i+1, m.Header.ContentType, m.Content)
			buf = buf[n:]
		}
	}
	// Output:
	// read 1: part of a message, kept for the next read
	// read 2: text/plain "first"
	// read 2: part of a message, kept for the next read
	// read 3: text/plain "second"
}

// A ServerConn that keeps the connection open (KeepAlive) answers
// pipelined requests one by one, in order, from one buffer; the reference
// protocol's default closes after one response instead. Flushed tells it
// the answers have gone to the transport, which keeps a client that never
// reads them from piling up more than MaxInFlight.
func ExampleServerConn() {
	var client message.ClientConn
	var wire []byte
	for _, q := range []string{"morpheus", "trinity"} {
		req, err := message.NewJSONMessage(message.ObjectValue(
			message.F("action", message.StringValue("search")),
			message.F("value", message.StringValue(q))))
		if err != nil {
			panic(err)
		}
		if wire, err = client.Send(wire, req); err != nil {
			panic(err)
		}
	}

	server := message.ServerConn{Config: message.ServerConfig{KeepAlive: true}}
	var out []byte
	for {
		req, n, err := server.Next(wire, time.Now())
		if err != nil {
			panic(err)
		}
		if n == 0 {
			break // no whole request left
		}
		v, err := req.JSONPick("value") // builds only the key it needs
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
		if out, err = server.Respond(out, answer); err != nil {
			panic(err)
		}
		wire = wire[n:]
	}
	server.Flushed() // out was handed to the transport
	fmt.Println("server done:", server.Done())

	for {
		resp, n, err := client.Next(out)
		if err != nil {
			panic(err)
		}
		if n == 0 {
			break
		}
		fmt.Printf("%s\n", resp.Content)
		out = out[n:]
	}
	// Output:
	// server done: false
	// {"result": "Searched for morpheus."}
	// {"result": "Searched for trinity."}
}

// Every fault in a peer's bytes is a *ProtocolError: errors.Is matches it
// against the sentinel of its Code, and Code names the reason for a log or
// a counter without parsing the text. Errors are sticky: after one, the
// connection is closed.
func ExampleProtocolError() {
	// A frame: the header's length (2 bytes, big-endian), the JSON header,
	// the content. This header lacks content-encoding.
	header := `{"byteorder": "little", "content-type": "text/json", "content-length": 2}`
	frame := append([]byte{0, byte(len(header))}, header...)
	frame = append(frame, "{}"...)

	var server message.ServerConn
	_, _, err := server.Next(frame, time.Now())
	fmt.Println(err)
	fmt.Println("missing header:", errors.Is(err, message.ErrMissingHeader))
	var pe *message.ProtocolError
	if errors.As(err, &pe) {
		fmt.Printf("Code: %v\nKey: %s\n", pe.Code, pe.Key)
	}
	_, _, again := server.Next(frame, time.Now())
	fmt.Println("sticky:", again == err)
	// Output:
	// Missing required header 'content-encoding'.
	// missing header: true
	// Code: missing required header
	// Key: content-encoding
	// sticky: true
}
