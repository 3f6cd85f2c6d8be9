package refapp

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/internal/golden"
	"github.com/evsel/evsel/message"
	"github.com/stretchr/testify/require"
)

// The golden exchanges live with the protocol, whose frame tests use them
// too; they were written by message/testdata/gen_golden.py from Python's
// own json.dumps and repr.
var goldenDir = filepath.Join("..", "..", "message", "testdata", "golden")

func decodeOne(t testing.TB, frame []byte) message.Message {
	t.Helper()
	var d message.Decoder
	m, n, err := d.Decode(frame)
	require.NoError(t, err)
	require.Equal(t, len(frame), n, "frame not consumed whole")
	return m
}

func frameOf(t testing.TB, m message.Message) []byte {
	t.Helper()
	f, err := m.AppendFrame(nil)
	require.NoError(t, err)
	return f
}

func TestGoldenExchanges(t *testing.T) {
	for _, c := range golden.Load(t, goldenDir) {
		t.Run(c.Name, func(t *testing.T) {
			// Our client's request is the reference's, byte for byte.
			if c.ClientArgs != nil {
				require.Equal(t, string(c.Request), string(frameOf(t, ClientRequest(c.ClientArgs[0], c.ClientArgs[1]))))
			}
			require.Equal(t, c.SendingRepr, pyfmt.Bytes(c.Request))
			require.Equal(t, c.ResponseRepr, pyfmt.Bytes(c.Response))

			// The server logic answers it as the reference does.
			resp, err := ServerResponse(decodeOne(t, c.Request))
			require.NoError(t, err)
			require.Equal(t, string(c.Response), string(frameOf(t, resp)))

			// The client prints what the reference client prints.
			got := decodeOne(t, c.Response)
			line, err := ClientResult(got)
			require.NoError(t, err)
			require.Equal(t, c.ResultLine, line)
			require.Equal(t, c.ReceivedLine, Received("response", got))
		})
	}
}

func TestServerResponseEdges(t *testing.T) {
	jsonMessage := func(content string) message.Message {
		m := message.NewBinaryMessage(message.ContentTypeJSON, []byte(content))
		m.Header.ContentEncoding = message.EncodingUTF8
		return m
	}
	answer := func(content string) string {
		resp, err := ServerResponse(jsonMessage(content))
		require.NoError(t, err)
		line, err := ClientResult(resp)
		require.NoError(t, err)
		return line
	}
	require.Equal(t, "Got result: Error: invalid action 'None'.", answer(`{}`))
	require.Equal(t, "Got result: Error: invalid action '5'.", answer(`{"action": 5}`))
	require.Equal(t, "Got result: Error: invalid action '['search']'.", answer(`{"action": ["search"]}`))
	require.Equal(t, "Got result: No match for 'None'.", answer(`{"action": "search"}`))
	require.Equal(t, "Got result: No match for '1.5'.", answer(`{"action": "search", "value": 1.5}`))
	require.Equal(t, "Got result: Follow the white rabbit. \U0001F430", answer(`{"value": "morpheus", "action": "search"}`))

	for _, content := range []string{`[]`, `"search"`, `null`} {
		_, err := ServerResponse(jsonMessage(content))
		require.ErrorIs(t, err, message.ErrContentNotObject)
		_, err = ClientResult(jsonMessage(content))
		require.ErrorIs(t, err, message.ErrContentNotObject)
	}
	_, err := ServerResponse(jsonMessage(""))
	require.ErrorIs(t, err, message.ErrEmptyContent)
	utf16 := jsonMessage("{}")
	utf16.Header.ContentEncoding = "utf-16"
	_, err = ClientResult(utf16)
	require.ErrorIs(t, err, message.ErrUnknownEncoding)

	// A binary request shorter than 10 bytes, and an empty one.
	resp, err := ServerResponse(message.NewBinaryMessage("anything/else", nil))
	require.NoError(t, err)
	require.Equal(t, "First 10 bytes of request: ", string(resp.Content))
	require.Equal(t, ContentTypeServerBinary, resp.Header.ContentType)
	require.Equal(t, message.EncodingBinary, resp.Header.ContentEncoding)
	line, err := ClientResult(resp)
	require.NoError(t, err)
	require.Equal(t, "Got response: b'First 10 bytes of request: '", line)
}

func TestClientRequestAndReceived(t *testing.T) {
	req := ClientRequest("double", "foo")
	require.Equal(t, ContentTypeClientBinary, req.Header.ContentType)
	require.Equal(t, "doublefoo", string(req.Content))
	require.Equal(t, "Received binary/custom-client-binary-type request", Received("request", req))

	// A value that is not UTF-8 goes out as U+FFFD, as Python could only
	// have sent text.
	req = ClientRequest(ActionSearch, "a\xffb")
	require.Equal(t, `{"action": "search", "value": "a`+"\uFFFD"+`b"}`, string(req.Content))
	require.Equal(t, `Received request {'action': 'search', 'value': 'a`+"\uFFFD"+`b'}`, Received("request", req))

	bad := req
	bad.Content = []byte("{")
	require.Equal(t, "Received text/json request", Received("request", bad), "undecodable JSON is shown by its type")
}

// FuzzServerResponse: whatever a request holds, the reference logic does
// not panic, and what it answers can be sent and read back.
func FuzzServerResponse(f *testing.F) {
	for _, c := range golden.Load(f, goldenDir) {
		f.Add(c.Request)
		f.Add(c.Response)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d message.Decoder
		m, n, err := d.Decode(data)
		if err != nil || n == 0 {
			return
		}
		if resp, err := ServerResponse(m); err == nil {
			frame := frameOf(t, resp)
			_, err = ClientResult(decodeOne(t, frame))
			require.NoError(t, err)
		}
		_, _ = ClientResult(m)
		_ = Received("request", m)
	})
}

// The whole server side of a search: take the request from the input
// buffer, parse its JSON, build and encode the answer.
func BenchmarkServeSearch(b *testing.B) {
	frame := frameOf(b, ClientRequest("search", "morpheus"))
	s := message.ServerConn{Config: message.ServerConfig{KeepAlive: true}}
	out := make([]byte, 0, 512)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		req, _, err := s.Next(frame, now)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := ServerResponse(req)
		if err != nil {
			b.Fatal(err)
		}
		if out, err = s.Respond(out[:0], resp); err != nil {
			b.Fatal(err)
		}
		s.Flushed()
	}
}

// TestServerResponseCost: the server builds only action and value, so a
// request padded with a large dense array costs it no more than a small one,
// and Received does not show content past ReceivedShown.
func TestServerResponseCost(t *testing.T) {
	pad := strings.Repeat("0,", (message.DefaultMaxJSONContentLength-100)/2)
	content := `{"pad": [` + pad + `0], "action": "search", "value": "ring"}`
	req := message.NewBinaryMessage(message.ContentTypeJSON, []byte(content))
	req.Header.ContentEncoding = message.EncodingUTF8
	var resp message.Message
	var err error
	allocs := testing.AllocsPerRun(5, func() { resp, err = ServerResponse(req) })
	require.NoError(t, err)
	line, err := ClientResult(resp)
	require.NoError(t, err)
	require.Equal(t, "Got result: "+SearchAnswer("ring"), line)
	require.LessOrEqual(t, allocs, 20.0, "allocations must not grow with the padding")

	require.Equal(t, "Received request <text/json content of "+strconv.Itoa(len(content))+" bytes, not shown>",
		Received("request", req))
	// A dense value is refused rather than built.
	req.Content = []byte(`{"action": "search", "value": [` + pad + `0]}`)
	_, err = ServerResponse(req)
	require.ErrorIs(t, err, message.ErrTooComplex)
}
