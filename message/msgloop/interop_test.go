//go:build unix

package msgloop_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/internal/golden"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
	"github.com/stretchr/testify/require"
)

// These tests run the Python reference programs (message/testdata/python)
// against our Server and Client with the reference application on them.
// python3 is part of every machine this project runs on, so its absence is
// a failure, not a skip.

var (
	pyDir     = filepath.Join("..", "testdata", "python")
	goldenDir = filepath.Join("..", "testdata", "golden")
)

func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 must be on PATH for the interop tests")
	return p
}

func portOf(a net.Addr) int { return a.(*net.TCPAddr).Port }

// pyAddr is Python's repr of an IPv4 (host, port) tuple.
func pyAddr(port int) string { return "('127.0.0.1', " + strconv.Itoa(port) + ")" }

// goldenRequest builds the request of a case the way our client would, or
// for cases the reference client cannot produce, from the decoded JSON.
func goldenRequest(t *testing.T, c golden.Case) message.Message {
	if c.ClientArgs != nil {
		return refapp.ClientRequest(c.ClientArgs[0], c.ClientArgs[1])
	}
	var d message.Decoder
	m, _, err := d.Decode(c.Request)
	require.NoError(t, err)
	v, err := m.JSON()
	require.NoError(t, err)
	m, err = message.NewJSONMessage(v)
	require.NoError(t, err)
	return m
}

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

func (s *pyServer) next(t *testing.T) string {
	t.Helper()
	select {
	case got, ok := <-s.lines:
		if !ok {
			t.Fatalf("server exited; stderr:\n%s", s.stderr.String())
		}
		return got
	case <-time.After(5 * time.Second):
		t.Fatal("server printed nothing")
	}
	return ""
}

func (s *pyServer) expect(t *testing.T, want string) {
	t.Helper()
	require.Equal(t, want, s.next(t))
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
			require.Equal(t, "Listening on "+pyAddr(s.port), first)
			return s
		}
		s.stop()
		if attempt == 2 || !strings.Contains(s.stderr.String(), "Address already in use") {
			t.Fatalf("app-server.py did not start: %s", s.stderr.String())
		}
	}
}

var acceptedRE = regexp.MustCompile(`^Accepted connection from (\('127\.0\.0\.1', \d+\))$`)

// Our Client against the Python server: for every golden case, the golden
// request gets the golden response, and the server prints what it prints
// for its own client.
func TestInteropPythonServer(t *testing.T) {
	s := startPyServer(t)
	defer s.stop()
	cl, err := msgloop.NewClient(msgloop.ClientOptions{Loop: loop.Options{Loops: 1}})
	require.NoError(t, err)
	defer cl.Close()

	for _, c := range golden.Load(t, goldenDir) {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req := goldenRequest(t, c)
			resp, err := cl.Request(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(s.port), req)
			require.NoError(t, err)
			frame, err := resp.AppendFrame(nil)
			require.NoError(t, err)
			require.Equal(t, string(c.Response), string(frame), "decoded and spelled again, the response is the reference's")
			line, err := refapp.ClientResult(resp)
			require.NoError(t, err)
			require.Equal(t, c.ResultLine, line)

			m := acceptedRE.FindStringSubmatch(s.next(t))
			require.NotNil(t, m, "an Accepted line")
			me := m[1]
			s.expect(t, refapp.Received("request", req)+" from "+me)
			s.expect(t, "Sending "+c.ResponseRepr+" to "+me)
			s.expect(t, "Closing connection to "+me)
		})
	}
}

// The Python client against our Server, closing after the response as the
// reference does or keeping the connection open: the request it sends is
// the golden one, our answer the golden one, and it prints exactly what it
// prints against the reference server.
func TestInteropPythonClient(t *testing.T) {
	py := python3(t)
	cases := golden.Load(t, goldenDir)
	for _, keepAlive := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepAlive=%v", keepAlive), func(t *testing.T) {
			t.Parallel()
			type exchange struct {
				request, response []byte
				closeErr          error
			}
			got := make(chan exchange, 1)
			var cur exchange // on the server's one loop
			srv, err := msgloop.NewServer(refapp.ServerResponse, msgloop.ServerOptions{
				Loop:         loop.Options{Loops: 1},
				ServerConfig: message.ServerConfig{KeepAlive: keepAlive},
				Hooks: msgloop.ServerHooks{
					Open: func(*loop.Conn) { cur = exchange{} },
					// The Python client sends one frame: all of Inbound.
					Request:  func(c *loop.Conn, _ message.Message) { cur.request = bytes.Clone(c.Inbound()) },
					Response: func(_ *loop.Conn, frame []byte) { cur.response = bytes.Clone(frame) },
					Close: func(_ *loop.Conn, err error) {
						cur.closeErr = err
						got <- cur
					},
				},
			})
			require.NoError(t, err)
			defer srv.Stop(context.Background())
			addr, err := srv.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			port := portOf(addr)
			shown := pyAddr(port)
			for _, c := range cases {
				if c.ClientArgs == nil {
					continue
				}
				cmd := exec.Command(py, "app-client.py", "127.0.0.1", strconv.Itoa(port), c.ClientArgs[0], c.ClientArgs[1])
				cmd.Dir = pyDir
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s: %s", c.Name, out)
				want := strings.Join([]string{
					"Starting connection to " + shown,
					"Sending " + c.SendingRepr + " to " + shown,
					c.ReceivedLine + " from " + shown,
					c.ResultLine,
					"Closing connection to " + shown,
				}, "\n") + "\n"
				require.Equal(t, want, string(out), c.Name)
				select {
				case ex := <-got:
					require.Equal(t, string(c.Request), string(ex.request), c.Name)
					require.Equal(t, string(c.Response), string(ex.response), c.Name)
					if keepAlive {
						// The client closed after its one response, between
						// requests: a clean end, not a truncated request.
						require.ErrorIs(t, ex.closeErr, io.EOF, c.Name)
						require.False(t, errors.Is(ex.closeErr, message.ErrTruncated), c.Name)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s: the server saw no close", c.Name)
				}
			}
		})
	}
}
