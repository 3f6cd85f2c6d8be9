package pyfmt

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/evsel/evsel/message"
	"github.com/stretchr/testify/require"
)

func TestBytes(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"", `b''`},
		{"Hello, world", `b'Hello, world'`},
		{"Message 1 from client.", `b'Message 1 from client.'`},
		{"it's", `b"it's"`},
		{`it's "x"`, `b'it\'s "x"'`},
		{`say "hi"`, `b'say "hi"'`},
		{"a\\b", `b'a\\b'`},
		{"\t\n\r\x00\x1f\x7f\x80\xff", `b'\t\n\r\x00\x1f\x7f\x80\xff'`},
		{"é", `b'\xc3\xa9'`},
	}
	for _, c := range cases {
		if got := Bytes([]byte(c.in)); got != c.want {
			t.Errorf("Bytes(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestStr(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"", `''`},
		{"127.0.0.1", `'127.0.0.1'`},
		{"it's", `"it's"`},
		{"\t\x00\x7f", `'\t\x00\x7f'`},
		{"é🐰", `'é🐰'`},
		{"\u00a0\u200b\U000e0001", `'\xa0\u200b\U000e0001'`},
		{"\xff", `'\udcff'`},
		{"a\xffb", `'a\udcffb'`},
		{"\xe2\x82", `'\udce2\udc82'`},
	}
	for _, c := range cases {
		if got := Str(c.in); got != c.want {
			t.Errorf("Str(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestAddr(t *testing.T) {
	cases := []struct {
		in   net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 54321}, `('127.0.0.1', 54321)`},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1").To4(), Port: 1}, `('127.0.0.1', 1)`},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 80}, `('::1', 80, 0, 0)`},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "7"}, `('fe80::1', 80, 0, 7)`},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, `'/tmp/s'`},
		{&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000}, `('127.0.0.1', 10000)`},
		{nil, `None`},
		{(*net.TCPAddr)(nil), `None`},
	}
	for _, c := range cases {
		if got := Addr(c.in); got != c.want {
			t.Errorf("Addr(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := HostPort("localhost", 65432); got != `('localhost', 65432)` {
		t.Errorf("HostPort = %s", got)
	}
}

// pythonRepr asks python3 for repr(CONV(line)) of each input line, where
// CONV turns the hex text of the line into a Python object. Without
// python3 the test is skipped: everything else here runs anywhere.
func pythonRepr(t *testing.T, conv string, inputs [][]byte) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	script := "import sys\nfor line in sys.stdin:\n    line = line.strip()\n    print(repr(" + conv + "))\n"
	var in bytes.Buffer
	for _, b := range inputs {
		in.WriteString(hex.EncodeToString(b))
		in.WriteByte('\n')
	}
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = &in
	cmd.Env = append(cmd.Environ(), "PYTHONIOENCODING=utf-8:surrogateescape")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != len(inputs) {
		t.Fatalf("python3 gave %d lines for %d inputs", len(lines), len(inputs))
	}
	return lines
}

// Python's object for each input: the bytes, the str that surrogateescape
// makes of them (what a str holding arbitrary bytes is in Python), or the
// float whose float.hex() they spell.
const (
	pyBytes = "bytes.fromhex(line)"
	pyStr   = "bytes.fromhex(line).decode('utf-8', 'surrogateescape')"
	pyFloat = "float.fromhex(bytes.fromhex(line).decode())"
)

// TestBytesMatchesPython compares Bytes with CPython on random and
// quote-heavy inputs.
func TestBytesMatchesPython(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var inputs [][]byte
	alphabet := []byte("'\"\\ab\t\n\r\x00\x7f\x80\xfe")
	for i := 0; i < 300; i++ {
		b := make([]byte, r.IntN(40))
		for j := range b {
			if i%2 == 0 {
				b[j] = byte(r.Uint32())
			} else {
				b[j] = alphabet[r.IntN(len(alphabet))]
			}
		}
		inputs = append(inputs, b)
	}
	want := pythonRepr(t, pyBytes, inputs)
	for i, b := range inputs {
		if got := Bytes(b); got != want[i] {
			t.Errorf("Bytes(%q) = %s, python says %s", b, got, want[i])
		}
	}
}

// TestStrMatchesPython compares Str with CPython on strings mixing quotes,
// controls, some non-ASCII characters whose printability both agree on, and
// bytes that are not UTF-8 (stray continuation bytes, truncated sequences,
// overlong forms, encoded surrogates), which Python holds as the lone
// surrogates of surrogateescape.
func TestStrMatchesPython(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"'", "\"", "\\", "a", "Z", " ", "\t", "\n", "\x01", "\x7f",
		"é", "\u00a0", "\u00ad", "🐰", "💍", "\u200b", "\u2028", "ß", "中",
		"\xff", "\x80", "\xc3", "\xe4\xb8", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"}
	inputs := [][]byte{
		[]byte("a\xffb"), []byte("\xed\xb2\x80"), []byte("\xf0\x9f\x90"), []byte("'\x80\""),
		[]byte("caf\xe9"), []byte("\xc3\xa9\xc3"), []byte("\xe2\x82"), []byte("x\xe2\x82\xacy\xbf"),
	}
	for i := 0; i < 300; i++ {
		var sb strings.Builder
		for n := r.IntN(12); n > 0; n-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		inputs = append(inputs, []byte(sb.String()))
	}
	want := pythonRepr(t, pyStr, inputs)
	for i, b := range inputs {
		if got := Str(string(b)); got != want[i] {
			t.Errorf("Str(%q) = %s, python says %s", b, got, want[i])
		}
	}
}

func TestValue(t *testing.T) {
	v := message.ObjectValue(
		message.F("a", message.ArrayValue(message.IntValue(1), message.FloatValue(2), message.Value{},
			message.BoolValue(true), message.BoolValue(false), message.StringValue("x"))),
		message.F("it's", message.ObjectValue()),
		message.F("f", message.ArrayValue(message.FloatValue(math.Inf(1)), message.FloatValue(math.Inf(-1)),
			message.FloatValue(math.NaN()), message.FloatValue(1e16), message.FloatValue(math.Copysign(0, -1)))))
	require.Equal(t, `{'a': [1, 2.0, None, True, False, 'x'], "it's": {}, 'f': [inf, -inf, nan, 1e+16, -0.0]}`, Value(v))
	require.Equal(t, `x`, ValueStr(message.StringValue("x")))
	require.Equal(t, `None`, ValueStr(message.Value{}))
	require.Equal(t, `[1.5]`, ValueStr(message.ArrayValue(message.FloatValue(1.5))))

	// Integers keep every digit, as Python's do.
	m := message.NewBinaryMessage(message.ContentTypeJSON, []byte(`[123456789012345678901234567890, -0]`))
	m.Header.ContentEncoding = message.EncodingUTF8
	big, err := m.JSON()
	require.NoError(t, err)
	require.Equal(t, `[123456789012345678901234567890, 0]`, Value(big))
}

// TestFloatMatchesPython compares the repr of float Values with CPython's
// on thousands of random floats, many near the switch between positional
// and exponent notation.
func TestFloatMatchesPython(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var floats []float64
	var inputs [][]byte
	add := func(f float64) {
		floats = append(floats, f)
		inputs = append(inputs, []byte(strconv.FormatFloat(f, 'x', -1, 64)))
	}
	for _, f := range []float64{math.Inf(1), math.Inf(-1), math.NaN(), 0, math.Copysign(0, -1), 1e16, 1e15, 5e-324} {
		add(f)
	}
	for range 1500 {
		if f := math.Float64frombits(r.Uint64()); !math.IsNaN(f) {
			add(f)
		}
		add(math.Pow(10, float64(r.IntN(40)-20)) * (1 + r.Float64()))
		add(float64(r.Int64N(1<<60)) / float64(int64(1)<<r.IntN(64)))
	}
	want := pythonRepr(t, pyFloat, inputs)
	for i, f := range floats {
		if got := Value(message.FloatValue(f)); got != want[i] {
			t.Errorf("Value(%v) = %s, python says %s", f, got, want[i])
		}
	}
}
