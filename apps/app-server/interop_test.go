package main

// These tests build app-server and app-client and run them against the
// Python reference programs (message/testdata/python), in both directions,
// so either side of the pair can be replaced without the other noticing.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pyDir = "../../message/testdata/python"

// build compiles the two Go programs once per test binary.
func build(t *testing.T) (server, client string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir, "../app-server", "../app-client")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return filepath.Join(dir, "app-server"), filepath.Join(dir, "app-client")
}

// freePort finds a port nobody listens on: the Python reference prints the
// port it was given, so it cannot be asked for port 0.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// serve starts a server program on a free port. The returned stop function
// interrupts it, waits for it and returns everything it printed; it also
// runs when the test ends, if not called before.
func serve(t *testing.T, name string, args ...string) (port string, stop func() string) {
	t.Helper()
	port = freePort(t)
	cmd := exec.Command(name, append(args, "127.0.0.1", port)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "Listening on ('127.0.0.1', "+port+")\n", first)
	var out bytes.Buffer
	out.WriteString(first)
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, lines)
		close(copied)
	}()
	var once sync.Once
	stop = func() string {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-copied:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-copied
			}
			cmd.Wait()
		})
		return out.String()
	}
	t.Cleanup(func() { stop() })
	return port, stop
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
	return string(out)
}

// cases are the reference exchanges and the lines the client prints last.
var cases = []struct {
	action, value string
	got           string
}{
	{"search", "morpheus", "Got result: Follow the white rabbit. \U0001F430"},
	{"search", "ring", "Got result: In the caves beneath the Misty Mountains. \U0001F48D"},
	{"search", "\U0001F436", "Got result: \U0001F43E Playing ball! \U0001F3D0"},
	{"search", "nobody", "Got result: No match for 'nobody'."},
	{"double", "foo", "Got response: b'First 10 bytes of request: doublefoo'"},
	{"negate", "12345678901234", "Got response: b'First 10 bytes of request: negate1234'"},
}

// TestClientsInteroperate runs both clients against both servers and
// compares the clients' whole output.
func TestClientsInteroperate(t *testing.T) {
	goServer, goClient := build(t)
	pyPort, _ := serve(t, "python3", filepath.Join(pyDir, "app-server.py"))
	goPort, _ := serve(t, goServer)
	for _, tc := range cases {
		for _, server := range []struct{ name, port string }{{"python server", pyPort}, {"go server", goPort}} {
			t.Run(tc.action+" "+tc.value+" on "+server.name, func(t *testing.T) {
				fromGo := run(t, goClient, "127.0.0.1", server.port, tc.action, tc.value)
				fromPy := run(t, "python3", filepath.Join(pyDir, "app-client.py"), "127.0.0.1", server.port, tc.action, tc.value)
				assert.Equal(t, fromPy, fromGo, "the Go client prints exactly what the Python one does")
				assert.Contains(t, fromGo, tc.got+"\n")
			})
		}
	}
}

// TestServerOutputMatchesReference compares what the two servers print for
// the same requests, with client ports masked.
func TestServerOutputMatchesReference(t *testing.T) {
	goServer, _ := build(t)
	pyPort, stopPy := serve(t, "python3", filepath.Join(pyDir, "app-server.py"))
	goPort, stopGo := serve(t, goServer)
	for _, tc := range cases {
		for _, port := range []string{pyPort, goPort} {
			run(t, "python3", filepath.Join(pyDir, "app-client.py"), "127.0.0.1", port, tc.action, tc.value)
		}
	}
	mask := regexp.MustCompile(`\('127\.0\.0\.1', \d+\)`)
	norm := func(s string) []string {
		return strings.Split(mask.ReplaceAllString(s, "ADDR"), "\n")
	}
	py, gos := norm(stopPy()), norm(stopGo())
	require.GreaterOrEqual(t, len(gos), 1+4*len(cases))
	assert.Equal(t, py[:1+4*len(cases)], gos[:1+4*len(cases)])
}

// TestServerSurvivesMalformedPeer: the Go server closes a connection that
// sends garbage, with the reason on stderr, and keeps serving.
func TestServerSurvivesMalformedPeer(t *testing.T) {
	goServer, goClient := build(t)
	port, _ := serve(t, goServer, "-message-timeout", "200ms")
	for _, garbage := range [][]byte{
		{0, 0},                 // header length 0
		{0, 3, '{', '"', 'x'},  // invalid JSON
		{0, 10, '{', '"', 'a'}, // half a frame, then silence
	} {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		require.NoError(t, err)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(garbage)
		_, err = io.Copy(io.Discard, c) // returns when the server closes
		assert.NoError(t, err)
		c.Close()
	}
	assert.Contains(t, run(t, goClient, "127.0.0.1", port, "search", "ring"), cases[1].got)
}

func TestUsage(t *testing.T) {
	goServer, goClient := build(t)
	for _, p := range []struct {
		bin  string
		want string
	}{{goServer, "<host> <port>\n"}, {goClient, "<host> <port> <action> <value>\n"}} {
		out, err := exec.Command(p.bin, "127.0.0.1").CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, 1, exit.ExitCode())
		assert.True(t, strings.HasPrefix(string(out), "Usage: "), "%q", out)
		assert.True(t, strings.HasSuffix(string(out), p.want), "%q", out)
	}
}
