package multiconn

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/loop"
)

func TestPayload(t *testing.T) {
	if got := string(Payload(1, 1, 1, 0)); got != "Message 1 from client." {
		t.Errorf("message 1 = %q", got)
	}
	if got := string(Payload(1, 7, 12, 0)); got != "Message 12 from client." {
		t.Errorf("message 12 = %q", got)
	}
	a, b := Payload(9, 3, 4, 1001), Payload(9, 3, 4, 1001)
	if len(a) != 1001 || !bytes.Equal(a, b) {
		t.Fatalf("random payload not reproducible (len %d)", len(a))
	}
	if bytes.Equal(a, Payload(9, 3, 5, 1001)) || bytes.Equal(a, Payload(9, 4, 4, 1001)) {
		t.Error("payloads of different messages or connections are equal")
	}
	cl := NewClient(ClientConfig{Messages: 12})
	if want := 9*22 + 3*23; cl.total != int64(want) {
		t.Errorf("total = %d, want %d", cl.total, want)
	}
}

func TestVerifier(t *testing.T) {
	var v Verifier
	msgs := [][]byte{[]byte("hello "), []byte("evsel "), []byte("world")}
	var all []byte
	for _, m := range msgs {
		v.Sent(m)
		all = append(all, m...)
	}
	if v.InFlight() != len(all) {
		t.Fatalf("InFlight = %d", v.InFlight())
	}
	// Echoed in chunks that straddle message boundaries.
	for _, chunk := range [][]byte{all[:4], all[4:13], all[13:]} {
		if err := v.Check(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if v.Verified() != int64(len(all)) || v.InFlight() != 0 {
		t.Fatalf("Verified %d InFlight %d", v.Verified(), v.InFlight())
	}
	if err := v.Check([]byte("x")); err == nil || !strings.Contains(err.Error(), "unexpected bytes after byte 17") {
		t.Errorf("extra byte: %v", err)
	}

	var w Verifier
	w.Sent([]byte("abcdef"))
	err := w.Check([]byte("abcXef"))
	if err == nil || err.Error() != "byte 3 is 0x58, sent 0x64" {
		t.Errorf("mismatch: %v", err)
	}
	if w.Verified() != 3 {
		t.Errorf("Verified after mismatch = %d", w.Verified())
	}
}

// lines is a concurrency-safe line collector.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSuffix(l.buf.String(), "\n"), "\n")
}

func newEngine(t *testing.T, h loop.Handler) *loop.Engine {
	t.Helper()
	e, err := loop.New(h, loop.Options{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return e
}

// serve starts an engine with h listening on a loopback port.
func serve(t *testing.T, h loop.Handler) int {
	t.Helper()
	addr, err := newEngine(t, h).Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return addr.(*net.TCPAddr).Port
}

func run(t *testing.T, cfg ClientConfig, port, n int) Result {
	t.Helper()
	cl := NewClient(cfg)
	cl.Start(newEngine(t, cl), "127.0.0.1", port, n)
	select {
	case <-cl.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("client not done: %+v", cl.Result())
	}
	return cl.Result()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPythonLines checks the default output against the lines of
// multiconn-client.py and multiconn-server.py.
func TestPythonLines(t *testing.T) {
	var sout, cout lines
	srv := &Server{Out: NewPrinter(&sout)}
	port := serve(t, srv)
	res := run(t, ClientConfig{Out: NewPrinter(&cout)}, port, 3)
	if !res.OK() || res.BytesVerified != 3*44 || res.Messages != 6 {
		t.Fatalf("result %+v", res)
	}
	waitFor(t, "server closes", func() bool { return srv.Stats().Closed == 3 })

	target := fmt.Sprintf("('127.0.0.1', %d)", port)
	var fixed []string
	received := map[string]string{}
	for _, l := range cout.Lines() {
		if m := regexp.MustCompile(`^Received b'(.*)' from connection (\d+)$`).FindStringSubmatch(l); m != nil {
			received[m[2]] += m[1]
			continue
		}
		fixed = append(fixed, l)
	}
	var want []string
	for i := 1; i <= 3; i++ {
		want = append(want,
			"Starting connection "+strconv.Itoa(i)+" to "+target,
			"Sending b'Message 1 from client.' to connection "+strconv.Itoa(i),
			"Sending b'Message 2 from client.' to connection "+strconv.Itoa(i),
			"Closing connection "+strconv.Itoa(i))
		if got := received[strconv.Itoa(i)]; got != "Message 1 from client.Message 2 from client." {
			t.Errorf("connection %d received %q", i, got)
		}
	}
	sort.Strings(fixed)
	sort.Strings(want)
	if strings.Join(fixed, "\n") != strings.Join(want, "\n") {
		t.Errorf("client lines:\n%s\nwant:\n%s", strings.Join(fixed, "\n"), strings.Join(want, "\n"))
	}

	var accepted, closing int
	echoed := ""
	addrRE := `\('127\.0\.0\.1', \d+\)`
	for _, l := range sout.Lines() {
		switch {
		case regexp.MustCompile(`^Accepted connection from ` + addrRE + `$`).MatchString(l):
			accepted++
		case regexp.MustCompile(`^Closing connection to ` + addrRE + `$`).MatchString(l):
			closing++
		case regexp.MustCompile(`^Echoing b'.*' to ` + addrRE + `$`).MatchString(l):
			echoed += l
		default:
			t.Errorf("unexpected server line %q", l)
		}
	}
	if accepted != 3 || closing != 3 || strings.Count(echoed, "Message") != 6 {
		t.Errorf("server: %d accepted, %d closing, echoed %q", accepted, closing, echoed)
	}
}

func TestManyConnections(t *testing.T) {
	srv := &Server{}
	port := serve(t, srv)
	res := run(t, ClientConfig{Messages: 20, Size: 3000, Window: 10000}, port, 100)
	if !res.OK() || res.BytesVerified != 100*20*3000 || res.Completed != 100 {
		t.Fatalf("result %+v", res)
	}
	waitFor(t, "server closes", func() bool { return srv.Stats().Closed == 100 })
	if st := srv.Stats(); st.Accepted != 100 || st.BytesEchoed != res.BytesSent || st.Errors != 0 {
		t.Errorf("server stats %+v", st)
	}
	if !strings.Contains(res.Summary(), "errors=0") || !strings.Contains(res.Summary(), "bytes_verified=6000000 ") {
		t.Errorf("summary %q", res.Summary())
	}
}

// TestMismatch uses a server that corrupts one byte per connection.
func TestMismatch(t *testing.T) {
	port := serve(t, loop.Funcs{Data: func(c *loop.Conn) {
		in := append([]byte(nil), c.Inbound()...)
		in[0] ^= 0xff
		c.Write(in)
		c.Consume(len(in))
	}})
	var errs lines
	res := run(t, ClientConfig{Size: 100, Err: NewPrinter(&errs)}, port, 4)
	if res.OK() || res.Errors != 4 || res.Completed != 0 || len(res.FirstErrors) != 4 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.FirstErrors[0], "echo mismatch: byte 0 is") {
		t.Errorf("error %q", res.FirstErrors[0])
	}
	if got := errs.Lines(); len(got) != 4 || !strings.HasPrefix(got[0], "Error on connection ") {
		t.Errorf("error lines %q", got)
	}
}

// TestEarlyEOF uses a server that closes before echoing everything: the
// client closes on EOF, like Python's, and counts the shortfall.
func TestEarlyEOF(t *testing.T) {
	port := serve(t, loop.Funcs{Data: func(c *loop.Conn) {
		c.Write(c.Inbound()[:1])
		c.Consume(len(c.Inbound()))
		c.Close()
	}})
	res := run(t, ClientConfig{}, port, 2)
	if res.Errors != 2 || res.BytesVerified != 2 || !strings.Contains(res.FirstErrors[0], "closed after 1 of 44 bytes") {
		t.Fatalf("result %+v", res)
	}
}

func TestRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	res := run(t, ClientConfig{}, port, 3)
	if res.Errors != 3 || res.Opened != 0 || res.OK() {
		t.Fatalf("result %+v", res)
	}
}

func TestNoConnections(t *testing.T) {
	res := run(t, ClientConfig{}, 1, 0)
	if !res.OK() || res.Connections != 0 {
		t.Fatalf("result %+v", res)
	}
}

func TestPrinterHold(t *testing.T) {
	var out lines
	p := NewPrinter(&out)
	p.Hold()
	p.Line("Accepted connection from ('127.0.0.1', 1)")
	p.Line("Echoing b'x' to ('127.0.0.1', 1)")
	p.Release("Listening on ('127.0.0.1', 2)")
	p.Line("Closing connection to ('127.0.0.1', 1)")
	want := "Listening on ('127.0.0.1', 2)|Accepted connection from ('127.0.0.1', 1)|Echoing b'x' to ('127.0.0.1', 1)|Closing connection to ('127.0.0.1', 1)"
	if got := strings.Join(out.Lines(), "|"); got != want {
		t.Errorf("got %s", got)
	}
	var quiet *Printer
	quiet.Hold()
	quiet.Line("x")
	quiet.Release("y")
	if quiet.On() {
		t.Error("nil printer is on")
	}
}

// TestPeer4 checks that the packed IPv4 peer prints exactly as the
// formatted address it replaces (pyfmt's repr of the address).
func TestPeer4(t *testing.T) {
	for _, tc := range []struct {
		ip   [4]byte
		port int
	}{{[4]byte{127, 0, 0, 1}, 50000}, {[4]byte{255, 255, 255, 255}, 65535}, {[4]byte{10, 0, 0, 0}, 1}, {[4]byte{0, 0, 0, 0}, 80}} {
		p := peer4(uint64(tc.ip[0])<<40 | uint64(tc.ip[1])<<32 | uint64(tc.ip[2])<<24 | uint64(tc.ip[3])<<16 | uint64(tc.port))
		want := pyfmt.Addr(&net.TCPAddr{IP: net.IPv4(tc.ip[0], tc.ip[1], tc.ip[2], tc.ip[3]), Port: tc.port})
		if got := p.String(nil); got != want {
			t.Errorf("peer4 %v:%d = %q, want %q", tc.ip, tc.port, got, want)
		}
	}
}
