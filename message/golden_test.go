package message

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evsel/evsel/internal/golden"
	"github.com/stretchr/testify/require"
)

// The golden exchanges are written by testdata/gen_golden.py from Python's
// own json.dumps; the reference application's side of them (which answer,
// which printed line) is checked in apps/refapp.

var goldenDir = filepath.Join("testdata", "golden")

func loadGolden(t testing.TB) []golden.Case { return golden.Load(t, goldenDir) }

func decodeOne(t testing.TB, frame []byte) Message {
	t.Helper()
	var d Decoder
	m, n, err := d.Decode(frame)
	require.NoError(t, err)
	require.Equal(t, len(frame), n, "frame not consumed whole")
	return m
}

// respell builds m again from its parts, the way a sender would: JSON
// content from the decoded value, anything else as is.
func respell(t *testing.T, m Message) Message {
	t.Helper()
	if m.Header.ContentType != ContentTypeJSON {
		return NewBinaryMessage(m.Header.ContentType, m.Content)
	}
	v, err := m.JSON()
	require.NoError(t, err)
	out, err := NewJSONMessage(v)
	require.NoError(t, err)
	return out
}

// TestGoldenFrames: every golden frame decodes, and spelling it again from
// its decoded parts gives the reference's bytes back.
func TestGoldenFrames(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			for _, frame := range [][]byte{c.Request, c.Response} {
				m := decodeOne(t, frame)
				again, err := m.AppendFrame(nil)
				require.NoError(t, err)
				require.Equal(t, string(frame), string(again), "re-encoding the decoded frame")
				again, err = respell(t, m).AppendFrame(nil)
				require.NoError(t, err)
				require.Equal(t, string(frame), string(again), "building the frame from its content")
			}
		})
	}
}

// TestGoldenExchange runs every golden exchange through the two state
// machines, the request arriving one byte at a time: what each side sends
// is the reference's bytes.
func TestGoldenExchange(t *testing.T) {
	now := time.Unix(1, 0)
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			var client ClientConn
			var server ServerConn
			out, err := client.Send(nil, respell(t, decodeOne(t, c.Request)))
			require.NoError(t, err)
			require.Equal(t, string(c.Request), string(out))

			var req Message
			for i := 1; i <= len(out); i++ {
				m, n, err := server.Next(out[:i], now)
				require.NoError(t, err)
				if i < len(out) {
					require.Zero(t, n, "a request after %d of %d bytes", i, len(out))
					continue
				}
				require.Equal(t, len(out), n)
				req = m
			}
			reply, err := server.Respond(nil, respell(t, decodeOne(t, c.Response)))
			require.NoError(t, err)
			require.Equal(t, string(c.Response), string(reply))
			require.True(t, server.Done(), "the reference answers once")
			require.Equal(t, string(c.Request[len(c.Request)-len(req.Content):]), string(req.Content))

			resp, n, err := client.Next(reply)
			require.NoError(t, err)
			require.Equal(t, len(reply), n)
			require.Equal(t, decodeOne(t, c.Response), resp)
		})
	}
}

// The extra-keys frame pins number, string and nesting spelling to
// json.dumps for every value type a header can carry.
func TestGoldenExtraKeys(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "golden", "extra_keys.frame.bin"))
	require.NoError(t, err)
	floats := []float64{1.0, 0.1, 1e16, 1e15, 1.5e-05, 0.0001, 123456789.123,
		negZero(), 1e22, 5e-324, 1.7976931348623157e308, 2.5e-7}
	fv := make([]Value, len(floats))
	for i, f := range floats {
		fv[i] = FloatValue(f)
	}
	big := numberValue([]byte("12345678901234567890123"), true)
	h := Header{
		ByteOrder:       "little",
		ContentType:     ContentTypeJSON,
		ContentEncoding: EncodingUTF8,
		Extra: []Field{
			F("x-floats", ArrayValue(fv...)),
			F("x-ints", ArrayValue(IntValue(0), IntValue(-1), big)),
			F("x-str", StringValue("\x00\x01\x1f\x7f<>&'\u2028\u00e9\U0001f436 \"\\/\b\f\n\r\t")),
			F("x-nested", ObjectValue(
				F("a", ArrayValue(BoolValue(true), BoolValue(false), Value{}, ObjectValue(), ArrayValue())),
				F("b", ObjectValue(F("c", ObjectValue(F("d", StringValue("e")))))))),
			F("x-\u00fcnicode key", StringValue("v")),
		},
	}
	got, err := Message{Header: h, Content: []byte("{}")}.AppendFrame(nil)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	// And it decodes back to the same header, extra keys in order.
	m := decodeOne(t, want)
	h.ContentLength = 2
	require.Equal(t, h.Extra[0].Key, m.Header.Extra[0].Key)
	again, err := m.AppendFrame(nil)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, again), "re-encoding a decoded frame changed it")
}

func negZero() float64 {
	z := 0.0
	return -z
}

func negInf() float64 { return -1 / zero }

var zero = 0.0
