package message

import (
	"strconv"
	"testing"
	"time"
)

var benchSizes = []int{64, 4 << 10, 1 << 20}

func benchName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

func benchContent(n int) []byte {
	c := make([]byte, n)
	for i := range c {
		c[i] = byte(i)
	}
	return c
}

var benchHeader = Header{ContentType: "binary/custom-client-binary-type", ContentEncoding: EncodingBinary}

// Encoding into a reused buffer, as a connection's output buffer would.
func BenchmarkEncode(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(benchName(n), func(b *testing.B) {
			content := benchContent(n)
			buf := make([]byte, 0, n+256)
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				var err error
				if buf, err = (Message{Header: benchHeader, Content: content}).AppendFrame(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Decoding a complete frame sitting in the input buffer.
func BenchmarkDecode(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(benchName(n), func(b *testing.B) {
			frame, err := Message{Header: benchHeader, Content: benchContent(n)}.AppendFrame(nil)
			if err != nil {
				b.Fatal(err)
			}
			var d Decoder
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, k, err := d.Decode(frame); err != nil || k != len(frame) {
					b.Fatal(err)
				}
			}
		})
	}
}

// A keep-alive server connection's machine: take a request from the input
// buffer and append its answer to the output, as msgloop does per request.
func BenchmarkServerConn(b *testing.B) {
	req, err := NewJSONMessage(ObjectValue(F("action", StringValue("search")), F("value", StringValue("morpheus"))))
	if err != nil {
		b.Fatal(err)
	}
	frame, err := req.AppendFrame(nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := NewJSONMessage(ObjectValue(F("result", StringValue("Follow the white rabbit. \U0001F430"))))
	if err != nil {
		b.Fatal(err)
	}
	s := ServerConn{Config: ServerConfig{KeepAlive: true}}
	out := make([]byte, 0, 512)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, n, err := s.Next(frame, now); err != nil || n != len(frame) {
			b.Fatal(err)
		}
		if out, err = s.Respond(out[:0], resp); err != nil {
			b.Fatal(err)
		}
		s.Flushed()
	}
}
