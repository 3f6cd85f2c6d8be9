package message

import (
	"strconv"
	"testing"
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

var benchHeader = Header{ContentType: ContentTypeClientBinary, ContentEncoding: EncodingBinary}

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
				if buf, err = AppendFrame(buf[:0], benchHeader, content); err != nil {
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
			frame, err := AppendFrame(nil, benchHeader, benchContent(n))
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

// The whole server side of a search: decode the frame, parse the JSON
// request, build and encode the answer.
func BenchmarkServeSearch(b *testing.B) {
	frame, err := ClientRequest("search", "morpheus").AppendFrame(nil)
	if err != nil {
		b.Fatal(err)
	}
	var d Decoder
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		req, _, err := d.Decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := ServerResponse(req)
		if err != nil {
			b.Fatal(err)
		}
		if out, err = resp.AppendFrame(out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
