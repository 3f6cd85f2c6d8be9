package apps_test

// The app-server and app-client programs against the Python reference
// programs (message/testdata/python), in both directions, so either side of
// the pair can be replaced without the other noticing.

import (
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appScript is a script of the message package's Python reference.
func appScript(t *testing.T, name string) []string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "message", "testdata", "python", name))
	require.NoError(t, err)
	return []string{"python3", "-u", p}
}

// startAppServer starts a server program on a free port once its Listening
// line is out.
func startAppServer(t *testing.T, argv ...string) (*proc, string) {
	t.Helper()
	port := strconv.Itoa(freePort(t)) // the Python reference prints the port it is given, so not 0
	p := start(t, append(argv, "127.0.0.1", port)...)
	m := p.WaitLines(listeningRE, 1, 10*time.Second)
	require.Equal(t, port, m[0][1])
	return p, port
}

// appOutput runs a client program to completion and returns its stdout.
func appOutput(t *testing.T, argv ...string) string {
	t.Helper()
	p := run(t, 20*time.Second, argv...)
	require.Zero(t, p.code, p.describe())
	return strings.Join(p.Lines(), "\n") + "\n"
}

// appCases are the reference exchanges and the last line the client prints.
var appCases = []struct {
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

// TestAppClientsInteroperate runs both clients against both servers and
// compares the clients' whole output.
func TestAppClientsInteroperate(t *testing.T) {
	_, pyPort := startAppServer(t, appScript(t, "app-server.py")...)
	_, goPort := startAppServer(t, bin("app-server"))
	for _, tc := range appCases {
		for _, server := range []struct{ name, port string }{{"python server", pyPort}, {"go server", goPort}} {
			t.Run(tc.action+" "+tc.value+" on "+server.name, func(t *testing.T) {
				fromGo := appOutput(t, goCmd("app-client", "127.0.0.1", server.port, tc.action, tc.value)...)
				fromPy := appOutput(t, append(appScript(t, "app-client.py"), "127.0.0.1", server.port, tc.action, tc.value)...)
				assert.Equal(t, fromPy, fromGo, "the Go client prints exactly what the Python one does")
				assert.Contains(t, fromGo, tc.got+"\n")
			})
		}
	}
}

// TestAppServerOutputMatchesReference compares what the two servers print
// for the same requests, with client ports masked.
func TestAppServerOutputMatchesReference(t *testing.T) {
	py, pyPort := startAppServer(t, appScript(t, "app-server.py")...)
	gos, goPort := startAppServer(t, bin("app-server"))
	for _, tc := range appCases {
		for _, port := range []string{pyPort, goPort} {
			appOutput(t, append(appScript(t, "app-client.py"), "127.0.0.1", port, tc.action, tc.value)...)
		}
	}
	closing := regexp.MustCompile(`^Closing connection to `)
	py.WaitLines(closing, len(appCases), 10*time.Second)
	gos.WaitLines(closing, len(appCases), 10*time.Second)
	mask := regexp.MustCompile(`\('127\.0\.0\.1', \d+\)`)
	norm := func(lines []string) []string {
		out := make([]string, 0, len(lines))
		for _, l := range lines {
			out = append(out, mask.ReplaceAllString(l, "ADDR"))
		}
		return out
	}
	n := 1 + 4*len(appCases) // Listening, then accepted/received/sending/closing each
	pyLines, goLines := norm(py.Lines()), norm(gos.Lines())
	require.GreaterOrEqual(t, len(pyLines), n)
	require.GreaterOrEqual(t, len(goLines), n)
	assert.Equal(t, pyLines[:n], goLines[:n])
}

// TestAppServerSurvivesMalformedPeer: the Go server closes a connection that
// sends garbage and keeps serving.
func TestAppServerSurvivesMalformedPeer(t *testing.T) {
	_, port := startAppServer(t, bin("app-server"), "-message-timeout", "200ms")
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
	assert.Contains(t, appOutput(t, goCmd("app-client", "127.0.0.1", port, "search", "ring")...), appCases[1].got)
}

func TestAppUsage(t *testing.T) {
	for _, p := range []struct {
		name string
		want string
	}{{"app-server", "<host> <port>"}, {"app-client", "<host> <port> <action> <value>"}} {
		r := run(t, 10*time.Second, goCmd(p.name, "127.0.0.1")...)
		assert.Equal(t, 1, r.code)
		lines := r.Lines()
		require.Len(t, lines, 1, r.describe())
		assert.True(t, strings.HasPrefix(lines[0], "Usage: "), "%q", lines[0])
		assert.True(t, strings.HasSuffix(lines[0], p.want), "%q", lines[0])
	}
}
