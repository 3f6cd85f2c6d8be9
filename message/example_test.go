package message_test

import (
	"fmt"

	"github.com/evsel/evsel/message"
)

// A client's request goes out as one frame; the receiving side decodes it
// from whatever bytes it has, answers, and the client prints the reply.
func Example() {
	m := message.ClientRequest("search", "morpheus")
	frame, err := message.EncodeFrame(m.Header, m.Content)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", frame)

	// The server's buffer holds the frame and the start of another one.
	buf := append(frame, 0x00)
	var d message.Decoder
	req, n, err := d.Decode(buf)
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "bytes consumed,", len(buf)-n, "kept for the next frame")
	v, _ := req.JSON()
	fmt.Println("request:", v.PyRepr())

	resp, _ := message.ServerResponse(req)
	out, _ := resp.AppendFrame(nil)

	// The client side, reading a stream in arbitrary chunks.
	var s message.Stream
	s.Feed(out[:10])
	_, ok, _ := s.Next()
	fmt.Println("complete after 10 bytes:", ok)
	s.Feed(out[10:])
	got, _, _ := s.Next()
	line, _ := message.ClientResult(got)
	fmt.Println(line)
	// Output:
	// "\x00g{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": 41}{\"action\": \"search\", \"value\": \"morpheus\"}"
	// 146 bytes consumed, 1 kept for the next frame
	// request: {'action': 'search', 'value': 'morpheus'}
	// complete after 10 bytes: false
	// Got result: Follow the white rabbit. 🐰
}
