package message

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goldenCase mirrors an entry of testdata/golden/cases.json, written by
// testdata/gen_golden.py from Python's own json.dumps and repr.
type goldenCase struct {
	Name          string   `json:"name"`
	ClientArgs    []string `json:"client_args"`
	SendingRepr   string   `json:"sending_repr"`
	ReceivedLine  string   `json:"received_line"`
	ResultLine    string   `json:"result_line"`
	request, resp []byte
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "golden", "cases.json"))
	require.NoError(t, err)
	var cases []goldenCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases)
	for i := range cases {
		cases[i].request = readGoldenFrame(t, cases[i].Name+".req")
		cases[i].resp = readGoldenFrame(t, cases[i].Name+".resp")
	}
	return cases
}

// readGoldenFrame reads NAME.bin and checks NAME.hex says the same, so a
// reviewer can trust the readable file.
func readGoldenFrame(t testing.TB, name string) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join("testdata", "golden", name+".bin"))
	require.NoError(t, err)
	hx, err := os.ReadFile(filepath.Join("testdata", "golden", name+".hex"))
	require.NoError(t, err)
	fromHex, err := hex.DecodeString(strings.ReplaceAll(string(hx), "\n", ""))
	require.NoError(t, err)
	require.Equal(t, bin, fromHex, "%s.hex and %s.bin differ", name, name)
	return bin
}

func decodeOne(t testing.TB, frame []byte) Message {
	t.Helper()
	var d Decoder
	m, n, err := d.Decode(frame)
	require.NoError(t, err)
	require.Equal(t, len(frame), n, "frame not consumed whole")
	return m
}

// goldenRequest builds the request of a case the way our client would, or
// for cases the reference client cannot produce, from the decoded JSON.
func goldenRequest(t *testing.T, c goldenCase) Message {
	if c.ClientArgs != nil {
		return ClientRequest(c.ClientArgs[0], c.ClientArgs[1])
	}
	v, err := decodeOne(t, c.request).JSON()
	require.NoError(t, err)
	m, err := NewJSONMessage(v)
	require.NoError(t, err)
	return m
}

func TestGoldenFrames(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			// Our request is the reference's, byte for byte.
			frame, err := goldenRequest(t, c).AppendFrame(nil)
			require.NoError(t, err)
			require.Equal(t, string(c.request), string(frame))

			// The server logic answers it as the reference does.
			req := decodeOne(t, c.request)
			resp, err := ServerResponse(req)
			require.NoError(t, err)
			frame, err = resp.AppendFrame(nil)
			require.NoError(t, err)
			require.Equal(t, string(c.resp), string(frame))

			// The client prints what the reference client prints.
			got := decodeOne(t, c.resp)
			line, err := ClientResult(got)
			require.NoError(t, err)
			require.Equal(t, c.ResultLine, line)
			require.Equal(t, c.SendingRepr, PyBytesRepr(c.request))
			require.Equal(t, c.ReceivedLine, receivedLine(t, got))
		})
	}
}

// receivedLine is the start of the reference client's "Received ..." line.
func receivedLine(t *testing.T, m Message) string {
	if m.Header.ContentType == ContentTypeJSON {
		v, err := m.JSON()
		require.NoError(t, err)
		return "Received response " + v.PyRepr()
	}
	return "Received " + m.Header.ContentType + " response"
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
				F("a", ArrayValue(BoolValue(true), BoolValue(false), NullValue(), ObjectValue(), ArrayValue())),
				F("b", ObjectValue(F("c", ObjectValue(F("d", StringValue("e")))))))),
			F("x-\u00fcnicode key", StringValue("v")),
		},
	}
	got, err := AppendFrame(nil, h, []byte("{}"))
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
