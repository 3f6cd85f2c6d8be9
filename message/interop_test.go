//go:build unix

package message

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// These tests run the Python programs in testdata/python against our codec.
// python3 is part of every machine this project runs on, so its absence is a
// failure, not a skip.

var pyDir = filepath.Join("testdata", "python")

func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 must be on PATH for the interop tests")
	return p
}

// pyAddr is Python's repr of an IPv4 (host, port) tuple.
func pyAddr(host string, port int) string {
	return "(" + PyStrRepr(host) + ", " + strconv.Itoa(port) + ")"
}

func portOf(a net.Addr) int { return a.(*net.TCPAddr).Port }

// pyServer is a running app-server.py whose stdout lines arrive on lines.
type pyServer struct {
	cmd    *exec.Cmd
	port   int
	lines  chan string
	stderr syncBuffer
	done   sync.WaitGroup
}

// syncBuffer collects a child's stderr while the test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (s *pyServer) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got, ok := <-s.lines:
		if !ok {
			t.Fatalf("server exited before printing %q; stderr:\n%s", want, s.stderr.String())
		}
		require.Equal(t, want, got)
	case <-time.After(5 * time.Second):
		t.Fatalf("server did not print %q", want)
	}
}

func (s *pyServer) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.done.Wait()
}

// freePort finds a loopback port nobody listens on. Another process could
// take it before Python binds it; startPyServer retries when that happens.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return portOf(ln.Addr())
}

func startPyServer(t *testing.T) *pyServer {
	py := python3(t)
	for attempt := 0; ; attempt++ {
		s := &pyServer{port: freePort(t), lines: make(chan string, 64)}
		s.cmd = exec.Command(py, "-u", "app-server.py", "127.0.0.1", strconv.Itoa(s.port))
		s.cmd.Dir = pyDir
		s.cmd.Stderr = &s.stderr
		out, err := s.cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, s.cmd.Start())
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			defer close(s.lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				s.lines <- sc.Text()
			}
		}()
		first, ok := <-s.lines
		if ok {
			require.Equal(t, "Listening on "+pyAddr("127.0.0.1", s.port), first)
			return s
		}
		s.stop()
		if attempt == 2 || !strings.Contains(s.stderr.String(), "Address already in use") {
			t.Fatalf("app-server.py did not start: %s", s.stderr.String())
		}
	}
}

// Our client side against the Python server: for every golden case, send
// the golden request and get the golden response back byte for byte.
func TestInteropPythonServer(t *testing.T) {
	s := startPyServer(t)
	defer s.stop()

	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port))
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
			me := pyAddr("127.0.0.1", portOf(conn.LocalAddr()))

			req, err := goldenRequest(t, c).AppendFrame(nil)
			require.NoError(t, err)
			// Split the request so the server sees a partial frame first.
			_, err = conn.Write(req[:len(req)/2])
			require.NoError(t, err)
			s.expect(t, "Accepted connection from "+me)
			_, err = conn.Write(req[len(req)/2:])
			require.NoError(t, err)

			var raw bytes.Buffer
			var st Stream
			resp, err := st.ReadMessage(io.TeeReader(conn, &raw))
			require.NoError(t, err)
			_, err = st.ReadMessage(io.TeeReader(conn, &raw))
			require.Equal(t, io.EOF, err, "the reference server closes after its response")
			require.Equal(t, string(c.resp), raw.String())

			line, err := ClientResult(resp)
			require.NoError(t, err)
			require.Equal(t, c.ResultLine, line)

			reqMsg := decodeOne(t, req)
			if reqMsg.Header.ContentType == ContentTypeJSON {
				v, err := reqMsg.JSON()
				require.NoError(t, err)
				s.expect(t, "Received request "+v.PyRepr()+" from "+me)
			} else {
				s.expect(t, "Received "+reqMsg.Header.ContentType+" request from "+me)
			}
			s.expect(t, "Sending "+PyBytesRepr(c.resp)+" to "+me)
			s.expect(t, "Closing connection to "+me)
		})
	}
}

// goServer is a blocking server on our codec and app logic, as the
// reference server behaves (close after answering) or, with keepOpen, as
// evsel's may (wait for the client to close).
type goServer struct {
	ln       net.Listener
	keepOpen bool
	requests chan []byte // raw request bytes, one per connection
	errs     chan error
	wg       sync.WaitGroup
}

func startGoServer(t *testing.T, keepOpen bool) *goServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &goServer{ln: ln, keepOpen: keepOpen, requests: make(chan []byte, 16), errs: make(chan error, 16)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := s.serve(conn); err != nil {
					s.errs <- err
				}
			}()
		}
	}()
	return s
}

func (s *goServer) serve(conn net.Conn) error {
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	var raw bytes.Buffer
	var st Stream
	req, err := st.ReadMessage(io.TeeReader(conn, &raw))
	if err != nil {
		return err
	}
	s.requests <- raw.Bytes()
	resp, err := ServerResponse(req)
	if err != nil {
		return err
	}
	frame, err := resp.AppendFrame(nil)
	if err != nil {
		return err
	}
	if _, err := conn.Write(frame); err != nil {
		return err
	}
	if s.keepOpen {
		if _, err := st.ReadMessage(conn); err != io.EOF {
			return fmt.Errorf("client did not close after one response: %v", err)
		}
	}
	return nil
}

func (s *goServer) stop() {
	s.ln.Close()
	s.wg.Wait()
}

// The Python client against our server: the request it sends is the golden
// one, and it prints exactly what it prints against the reference server.
func TestInteropPythonClient(t *testing.T) {
	py := python3(t)
	cases := loadGolden(t)
	for _, keepOpen := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepOpen=%v", keepOpen), func(t *testing.T) {
			t.Parallel()
			s := startGoServer(t, keepOpen)
			defer s.stop()
			port := portOf(s.ln.Addr())
			srv := pyAddr("127.0.0.1", port)
			for _, c := range cases {
				if c.ClientArgs == nil {
					continue
				}
				cmd := exec.Command(py, "app-client.py", "127.0.0.1", strconv.Itoa(port), c.ClientArgs[0], c.ClientArgs[1])
				cmd.Dir = pyDir
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s: %s", c.Name, out)
				want := strings.Join([]string{
					"Starting connection to " + srv,
					"Sending " + c.SendingRepr + " to " + srv,
					c.ReceivedLine + " from " + srv,
					c.ResultLine,
					"Closing connection to " + srv,
				}, "\n") + "\n"
				require.Equal(t, want, string(out), c.Name)
				select {
				case got := <-s.requests:
					require.Equal(t, string(c.request), string(got), c.Name)
				case err := <-s.errs:
					t.Fatalf("%s: server: %v", c.Name, err)
				}
			}
			s.stop()
			close(s.errs)
			for err := range s.errs {
				t.Errorf("server: %v", err)
			}
		})
	}
}

func TestInteropPythonUsage(t *testing.T) {
	py := python3(t)
	for prog, want := range map[string]string{
		"app-server.py": "Usage: app-server.py <host> <port>\n",
		"app-client.py": "Usage: app-client.py <host> <port> <action> <value>\n",
	} {
		cmd := exec.Command(py, prog, "127.0.0.1")
		cmd.Dir = pyDir
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%s: %v", prog, err)
		require.Equal(t, 1, ee.ExitCode())
		require.Equal(t, want, string(out))
	}
}

// TestInteropPythonSpelling compares our JSON and repr spellings with
// CPython's on thousands of random floats, strings and byte strings.
func TestInteropPythonSpelling(t *testing.T) {
	py := python3(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct {
		Float *string `json:"float,omitempty"`
		Str   *string `json:"str,omitempty"`
		Bytes *string `json:"bytes,omitempty"`
	}
	var items []item
	var floats []float64
	var strs []string
	var bytess [][]byte
	addFloat := func(f float64) {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return
		}
		h := strconv.FormatFloat(f, 'x', -1, 64)
		items = append(items, item{Float: &h})
		floats = append(floats, f)
	}
	for range 1500 {
		addFloat(math.Float64frombits(rng.Uint64()))
		// Around the positional/exponent switch points.
		addFloat(math.Pow(10, float64(rng.IntN(40)-20)) * (1 + rng.Float64()))
		addFloat(float64(rng.Int64N(1<<60)) / float64(int64(1)<<rng.IntN(64)))
	}
	// Runes from blocks assigned long ago, so that Go's and Python's Unicode
	// tables agree on which are printable.
	ranges := [][2]rune{{0, 0x7f}, {0x80, 0xff}, {0x370, 0x3ff}, {0x2000, 0x206f}, {0x4e00, 0x4e80}, {0x1f300, 0x1f64f}, {0xe000, 0xe010}, {0xfff0, 0xfffd}}
	for range 1500 {
		var sb strings.Builder
		for range rng.IntN(12) {
			r := ranges[rng.IntN(len(ranges))]
			sb.WriteRune(r[0] + rng.Int32N(r[1]-r[0]+1))
		}
		s := sb.String()
		items = append(items, item{Str: &s})
		strs = append(strs, s)
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if rng.IntN(4) == 0 {
				b[i] = `'"\`[rng.IntN(3)]
			}
		}
		h := hex.EncodeToString(b)
		items = append(items, item{Bytes: &h})
		bytess = append(bytess, b)
	}

	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, it := range items {
		require.NoError(t, enc.Encode(it))
	}
	cmd := exec.Command(py, "spelling.py")
	cmd.Dir = pyDir
	cmd.Stdin = &in
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, len(items))

	var fi, si, bi int
	for i, it := range items {
		var got struct{ JSON, Repr string }
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &got))
		switch {
		case it.Float != nil:
			f := floats[fi]
			fi++
			require.Equal(t, got.JSON, FloatValue(f).String(), "%v", f)
			require.Equal(t, got.Repr, FloatValue(f).PyRepr(), "%v", f)
		case it.Str != nil:
			s := strs[si]
			si++
			require.Equal(t, got.JSON, StringValue(s).String(), "%+q", s)
			require.Equal(t, got.Repr, PyStrRepr(s), "%+q", s)
		default:
			b := bytess[bi]
			bi++
			require.Equal(t, got.Repr, PyBytesRepr(b), "%x", b)
		}
	}
}
