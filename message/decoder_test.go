package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawFrame builds a frame around an arbitrary header text, for malformed
// headers the encoder would never write.
func rawFrame(header string, content string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(header)))
	return append(append(b, header...), content...)
}

func mustFrame(t testing.TB, h Header, content string) []byte {
	t.Helper()
	f, err := Message{Header: h, Content: []byte(content)}.AppendFrame(nil)
	require.NoError(t, err)
	return f
}

// searchRequest is the reference client's search for value.
func searchRequest(t testing.TB, value string) Message {
	m, err := NewJSONMessage(ObjectValue(F("action", StringValue("search")), F("value", StringValue(value))))
	require.NoError(t, err)
	return m
}

// threeFrames is a JSON request, a binary one and one with an empty body.
func threeFrames(t testing.TB) ([]byte, []Message) {
	reqs := []Message{
		searchRequest(t, "morpheus"),
		NewBinaryMessage("binary/custom-client-binary-type", []byte("doublefoo")),
		NewBinaryMessage("application/empty", nil),
	}
	var all []byte
	for _, m := range reqs {
		var err error
		all, err = m.AppendFrame(all)
		require.NoError(t, err)
	}
	return all, reqs
}

func requireSameMessage(t testing.TB, want, got Message) {
	t.Helper()
	want.Header.ContentLength = len(want.Content)
	require.Equal(t, want.Header, got.Header)
	require.Equal(t, string(want.Content), string(got.Content))
}

func TestDecodeManyFramesAtOnce(t *testing.T) {
	all, want := threeFrames(t)
	all = append(all, 0) // first byte of a fourth frame: the remainder
	var d Decoder
	buf := all
	for i := range want {
		m, n, err := d.Decode(buf)
		require.NoError(t, err)
		require.NotZero(t, n, "frame %d", i)
		requireSameMessage(t, want[i], m)
		buf = buf[n:]
	}
	m, n, err := d.Decode(buf)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, Message{}, m)
	require.Equal(t, []byte{0}, buf, "remainder kept")
}

// The event-loop way: an input buffer that grows one byte per read and is
// handed to Decode whole each time.
func TestDecodeOneByteAtATime(t *testing.T) {
	all, want := threeFrames(t)
	var d Decoder
	var buf []byte
	var got []Message
	for _, c := range all {
		buf = append(buf, c)
		for {
			m, n, err := d.Decode(buf)
			require.NoError(t, err)
			if n == 0 {
				break
			}
			m.Content = bytes.Clone(m.Content) // buf is about to be reused
			got = append(got, m)
			buf = buf[n:]
		}
	}
	require.Len(t, got, len(want))
	for i := range want {
		requireSameMessage(t, want[i], got[i])
	}
	require.Empty(t, buf)
}

func TestDecodeContentIsNotCopied(t *testing.T) {
	frame := mustFrame(t, Header{ContentType: "x", ContentEncoding: "binary"}, "payload")
	var d Decoder
	m, _, err := d.Decode(frame)
	require.NoError(t, err)
	require.Same(t, &frame[len(frame)-len("payload")], &m.Content[0])
	require.Equal(t, len(m.Content), cap(m.Content), "append to Content must not overwrite the next frame")
}

// The header is parsed once even if its content arrives in many reads; a
// stale parse is not reused for a different frame.
func TestDecodeHeaderParsedOnce(t *testing.T) {
	frame := mustFrame(t, Header{ContentType: "x", ContentEncoding: "binary"}, "0123456789")
	var d Decoder
	hdrEnd := len(frame) - 10
	_, n, err := d.Decode(frame[:hdrEnd])
	require.NoError(t, err)
	require.Zero(t, n)
	require.True(t, d.parsed)
	_, n, err = d.Decode(frame[:hdrEnd+6])
	require.NoError(t, err)
	require.Zero(t, n)
	require.True(t, d.parsed)
	m, n, err := d.Decode(frame)
	require.NoError(t, err)
	require.Equal(t, len(frame), n)
	require.Equal(t, "0123456789", string(m.Content))
	require.False(t, d.parsed)
}

func TestDecodeErrors(t *testing.T) {
	h := func(body string) []byte { return rawFrame(body, "") }
	valid := `"byteorder": "little", "content-type": "t", "content-encoding": "e"`
	tests := []struct {
		name  string
		input []byte
		want  *ProtocolError
		text  string // exact Error() when set
		key   string
	}{
		{"header length 0", []byte{0, 0}, ErrEmptyHeader, "", ""},
		{"header length 0 then bytes", []byte{0, 0, '{', '}'}, ErrEmptyHeader, "", ""},
		{"not JSON", h(`hello`), ErrInvalidHeader, "", ""},
		{"truncated JSON", h(`{"byteorder": "lit`), ErrInvalidHeader, "", ""},
		{"trailing garbage", h(`{}x`), ErrInvalidHeader, "", ""},
		{"two objects", h(`{} {}`), ErrInvalidHeader, "", ""},
		{"single quotes", h(`{'byteorder': 'little'}`), ErrInvalidHeader, "", ""},
		{"trailing comma", h(`{"a": 1,}`), ErrInvalidHeader, "", ""},
		{"leading zero", h(`{"a": 01}`), ErrInvalidHeader, "", ""},
		{"bare minus", h(`{"a": -}`), ErrInvalidHeader, "", ""},
		{"dot without digits", h(`{"a": 1.}`), ErrInvalidHeader, "", ""},
		{"NaN is not JSON", h(`{"a": NaN}`), ErrInvalidHeader, "", ""},
		{"Infinity is not JSON", h(`{"a": -Infinity}`), ErrInvalidHeader, "", ""},
		{"bad escape", h(`{"a": "\x"}`), ErrInvalidHeader, "", ""},
		{"short unicode escape", h(`{"a": "\u12"}`), ErrInvalidHeader, "", ""},
		{"raw newline in string", h("{\"a\": \"x\ny\"}"), ErrInvalidHeader, "", ""},
		{"invalid UTF-8", h("{\"a\": \"\xff\"}"), ErrInvalidHeader, "", ""},
		{"BOM", h("\ufeff{}"), ErrInvalidHeader, "", ""},
		{"vertical tab is not whitespace", h("\v{}"), ErrInvalidHeader, "", ""},
		{"unquoted key", h(`{a: 1}`), ErrInvalidHeader, "", ""},
		{"too deep", h(`{"a": ` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`), ErrInvalidHeader, "", ""},
		{"array", h(`[1, 2]`), ErrHeaderNotObject, "", ""},
		{"string", h(`"byteorder"`), ErrHeaderNotObject, "", ""},
		{"null", h(` null `), ErrHeaderNotObject, "", ""},
		{"empty object", h(`{}`), ErrMissingHeader, "Missing required header 'byteorder'.", "byteorder"},
		{"no content-length", h(`{` + valid + `}`), ErrMissingHeader, "Missing required header 'content-length'.", "content-length"},
		{"no content-type", h(`{"byteorder": "big", "content-length": 0, "content-encoding": "e"}`), ErrMissingHeader, "Missing required header 'content-type'.", "content-type"},
		{"no content-encoding", h(`{"byteorder": "big", "content-length": 0, "content-type": "t"}`), ErrMissingHeader, "Missing required header 'content-encoding'.", "content-encoding"},
		{"escaped lookalike key does not count", h(`{"byteorder": "big", "content-length": 0, "content-type": "t", "content_encoding": "e"}`), ErrMissingHeader, "Missing required header 'content-encoding'.", "content-encoding"},
		{"negative length", h(`{` + valid + `, "content-length": -1}`), ErrBadContentLength, "", "content-length"},
		{"float length", h(`{` + valid + `, "content-length": 41.0}`), ErrBadContentLength, "", "content-length"},
		{"exponent length", h(`{` + valid + `, "content-length": 4e1}`), ErrBadContentLength, "", "content-length"},
		{"string length", h(`{` + valid + `, "content-length": "41"}`), ErrBadContentLength, "", "content-length"},
		{"null length", h(`{` + valid + `, "content-length": null}`), ErrBadContentLength, "", "content-length"},
		{"length over max", h(`{` + valid + `, "content-length": 16777217}`), ErrContentTooLarge, "", "content-length"},
		{"length over int", h(`{` + valid + `, "content-length": 123456789012345678901234567890}`), ErrContentTooLarge, "", "content-length"},
		{"byteorder not string", h(`{"byteorder": 1, "content-type": "t", "content-encoding": "e", "content-length": 0}`), ErrBadHeaderValue, "", "byteorder"},
		{"content-type not string", h(`{"byteorder": "big", "content-type": ["t"], "content-encoding": "e", "content-length": 0}`), ErrBadHeaderValue, "", "content-type"},
		{"content-encoding null", h(`{"byteorder": "big", "content-type": "t", "content-encoding": null, "content-length": 0}`), ErrBadHeaderValue, "", "content-encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			m, n, err := d.Decode(tc.input)
			require.Error(t, err)
			require.ErrorIs(t, err, tc.want)
			var pe *ProtocolError
			require.True(t, errors.As(err, &pe))
			require.Equal(t, tc.want.Code, pe.Code)
			require.Equal(t, tc.key, pe.Key)
			if tc.text != "" {
				require.Equal(t, tc.text, err.Error())
			}
			require.Zero(t, n)
			require.Equal(t, Message{}, m)
			for _, other := range []*ProtocolError{ErrEmptyHeader, ErrInvalidHeader, ErrHeaderNotObject,
				ErrMissingHeader, ErrBadHeaderValue, ErrBadContentLength, ErrContentTooLarge} {
				if other != tc.want {
					require.NotErrorIs(t, err, other)
				}
			}
			// Sticky: the stream cannot be resynchronised.
			_, _, again := d.Decode(tc.input)
			require.Same(t, err, again)
			_, _, again = d.Decode(nil)
			require.Same(t, err, again)
		})
	}
}

// Content-length limit is checked when the header is complete, before any
// content is buffered, and is configurable.
func TestDecodeMaxContentLength(t *testing.T) {
	frame := mustFrame(t, Header{ContentType: "x", ContentEncoding: "binary"}, "12345")
	hdrOnly := frame[:len(frame)-5]
	d := Decoder{MaxContentLength: 4}
	_, _, err := d.Decode(hdrOnly)
	require.ErrorIs(t, err, ErrContentTooLarge)

	d = Decoder{MaxContentLength: 5}
	m, n, err := d.Decode(frame)
	require.NoError(t, err)
	require.Equal(t, len(frame), n)
	require.Equal(t, "12345", string(m.Content))

	var def Decoder
	_, _, err = def.Decode(rawFrame(`{"byteorder": "big", "content-type": "t", "content-encoding": "e", "content-length": 16777216}`, ""))
	require.NoError(t, err, "exactly the default maximum is allowed")
}

// What a receiver must accept: any JSON spelling of a valid header.
func TestDecodeAcceptsAnyJSONSpelling(t *testing.T) {
	tests := []struct {
		name, header string
		want         Header
	}{
		{"compact, other order", `{"content-length":3,"content-encoding":"binary","content-type":"x","byteorder":"big"}`,
			Header{ByteOrder: "big", ContentType: "x", ContentEncoding: "binary", ContentLength: 3}},
		{"whitespace everywhere", " \t\r\n{ \"byteorder\" :\n\"little\" ,\t\"content-type\"\r:\"x\", \"content-encoding\": \"binary\" , \"content-length\" : 3 } \n",
			Header{ByteOrder: "little", ContentType: "x", ContentEncoding: "binary", ContentLength: 3}},
		{"escaped keys and values", `{"\u0062yteorder": "l\u0069ttle", "content\u002dtype": "te\/xt", "content-encoding": "\u00e9\ud83d\udc36", "content-length": 3}`,
			Header{ByteOrder: "little", ContentType: "te/xt", ContentEncoding: "\u00e9\U0001F436", ContentLength: 3}},
		{"minus zero length", `{"byteorder": "big", "content-type": "x", "content-encoding": "binary", "content-length": -0}`,
			Header{ByteOrder: "big", ContentType: "x", ContentEncoding: "binary", ContentLength: 0}},
		{"duplicates: last wins, as in Python", `{"byteorder": 1, "content-length": "x", "byteorder": "big", "content-type": "x", "content-encoding": "binary", "content-length": 3, "k": 1, "j": 2, "k": 3}`,
			Header{ByteOrder: "big", ContentType: "x", ContentEncoding: "binary", ContentLength: 3,
				Extra: []Field{F("k", IntValue(3)), F("j", IntValue(2))}}},
		{"lone surrogate becomes U+FFFD", `{"byteorder": "\ud800x", "content-type": "\udc00", "content-encoding": "\ud83d\u0041", "content-length": 3}`,
			Header{ByteOrder: "\uFFFDx", ContentType: "\uFFFD", ContentEncoding: "\uFFFDA", ContentLength: 3}},
		{"extra keys in order, any type", `{"z": {"b": [1, 2.5, "s", true, false, null], "a": {}}, "byteorder": "big", "content-type": "x", "content-encoding": "binary", "content-length": 3, "a": -1e400}`,
			Header{ByteOrder: "big", ContentType: "x", ContentEncoding: "binary", ContentLength: 3,
				Extra: []Field{
					F("z", Value{kind: Object, fields: []Field{
						F("b", Value{kind: Array, items: []Value{IntValue(1), FloatValue(2.5), StringValue("s"), BoolValue(true), BoolValue(false), {}}}),
						F("a", Value{kind: Object, fields: []Field{}}),
					}}),
					F("a", FloatValue(negInf())),
				}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			frame := rawFrame(tc.header, "abcXYZ")
			m, n, err := d.Decode(frame)
			require.NoError(t, err)
			cl := tc.want.ContentLength
			require.Equal(t, len(frame)-6+cl, n)
			require.Equal(t, tc.want, m.Header)
			require.Equal(t, "abcXYZ"[:cl], string(m.Content))
		})
	}
}

// The common path allocates nothing: decoding a reference frame, and
// encoding one into a buffer with room.
func TestZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumentation allocates")
	}
	var frames [][]byte
	for _, c := range loadGolden(t) {
		frames = append(frames, c.Request, c.Response)
	}
	var d Decoder
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			if _, _, err := d.Decode(f); err != nil {
				panic(err)
			}
		}
	})
	require.Zero(t, allocs, "Decode allocates")

	req := searchRequest(t, "morpheus")
	buf := make([]byte, 0, 512)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := req.AppendFrame(buf); err != nil {
			panic(err)
		}
	})
	require.Zero(t, allocs, "AppendFrame allocates")

	// A keep-alive server connection answering pipelined requests, and the
	// client reading the answers.
	var in []byte
	for i := 0; i < len(frames); i += 2 {
		in = append(in, frames[i]...) // the requests
	}
	resp := decodeOne(t, frames[1])
	s := ServerConn{Config: ServerConfig{KeepAlive: true}}
	c := ClientConn{}
	now := time.Now()
	outBuf, sendBuf := make([]byte, 0, 64<<10), make([]byte, 0, 512)
	allocs = testing.AllocsPerRun(100, func() {
		out := outBuf[:0]
		for rest := in; ; {
			_, n, err := s.Next(rest, now)
			if err != nil {
				panic(err)
			}
			if n == 0 {
				break
			}
			rest = rest[n:]
			if out, err = s.Respond(out, resp); err != nil {
				panic(err)
			}
			if _, err = c.Send(sendBuf[:0], resp); err != nil {
				panic(err)
			}
			if _, n, err = c.Next(out[len(out)-len(frames[1]):]); err != nil || n == 0 {
				panic(err)
			}
		}
		s.Flushed()
	})
	require.Zero(t, allocs, "the state machines allocate")
}
