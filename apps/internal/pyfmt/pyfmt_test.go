package pyfmt

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"testing"
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

// pythonRepr asks python3 for repr of each input: bytes when asStr is
// false, else the UTF-8 decoding of the input.
func pythonRepr(t *testing.T, inputs [][]byte, asStr bool) []string {
	t.Helper()
	conv := "bytes.fromhex(line)"
	if asStr {
		conv = "bytes.fromhex(line).decode('utf-8')"
	}
	script := "import sys\nfor line in sys.stdin:\n    line = line.strip()\n    print(repr(" + conv + "))\n"
	var in bytes.Buffer
	for _, b := range inputs {
		in.WriteString(hex.EncodeToString(b))
		in.WriteByte('\n')
	}
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = &in
	cmd.Env = append(cmd.Environ(), "PYTHONIOENCODING=utf-8")
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
	want := pythonRepr(t, inputs, false)
	for i, b := range inputs {
		if got := Bytes(b); got != want[i] {
			t.Errorf("Bytes(%q) = %s, python says %s", b, got, want[i])
		}
	}
}

// TestStrMatchesPython compares Str with CPython on strings mixing quotes,
// controls and some non-ASCII characters whose printability both agree on.
func TestStrMatchesPython(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"'", "\"", "\\", "a", "Z", " ", "\t", "\n", "\x01", "\x7f",
		"é", "\u00a0", "\u00ad", "🐰", "💍", "\u200b", "\u2028", "ß", "中"}
	var inputs [][]byte
	for i := 0; i < 300; i++ {
		var sb strings.Builder
		for n := r.IntN(12); n > 0; n-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		inputs = append(inputs, []byte(sb.String()))
	}
	want := pythonRepr(t, inputs, true)
	for i, b := range inputs {
		if got := Str(string(b)); got != want[i] {
			t.Errorf("Str(%q) = %s, python says %s", b, got, want[i])
		}
	}
}
