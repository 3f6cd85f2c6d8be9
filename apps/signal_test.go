//go:build unix

package apps_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/apps/refapp"
)

// waitListening dials port until something accepts there.
func waitListening(t *testing.T, port string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startKilledAtCleanup starts srv; the channel is closed once it exits,
// and the test's end kills it if it has not.
func startKilledAtCleanup(t *testing.T, srv *exec.Cmd) <-chan struct{} {
	t.Helper()
	require.NoError(t, srv.Start())
	exited := make(chan struct{})
	go func() {
		srv.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			srv.Process.Kill()
			<-exited
		}
	})
	return exited
}

// TestServerWithUnreadStdout is the item 5: app-server printing a
// line per event to a pipe nobody reads used to hang once the pipe was
// full (after some 172 requests). Now the lines that do not fit are
// dropped: every request is answered, SIGTERM still stops the server
// cleanly, and the lost lines are counted on stderr.
func TestServerWithUnreadStdout(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close() // never read: kept open so writes block rather than fail
	port := strconv.Itoa(freePort(t))
	srv := exec.Command(bin("app-server"), "127.0.0.1", port)
	srv.Stdout = w
	var stderr bytes.Buffer
	var mu sync.Mutex
	srv.Stderr = syncWriter{&mu, &stderr}
	exited := startKilledAtCleanup(t, srv)
	w.Close()
	waitListening(t, port)

	// 1,000 requests, each on its own connection: some 5 lines and 600
	// bytes of output apiece, ten times what the pipe holds.
	const n = 1000
	t0 := time.Now()
	cl := run(t, 60*time.Second, goCmd("app-client", "-n", strconv.Itoa(n), "-c", "4", "-timeout", "10s",
		"127.0.0.1", port, "search", "morpheus")...)
	require.Zero(t, cl.code, cl.describe())
	require.Contains(t, strings.Join(cl.Lines(), "\n"), "requests=1000 connections=4 keepalive=false pipeline=1 errors=0")
	t.Logf("%d requests answered in %v with stdout unread", n, time.Since(t0))

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
		mu.Lock()
		defer mu.Unlock()
		assert.Zero(t, srv.ProcessState.ExitCode(), "stderr: %s", stderr.String())
		assert.Regexp(t, `(?m)^\d+ log lines dropped$`, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not exit on SIGTERM with its stdout unread")
	}
}

// TestServersStopOnSIGTERM: SIGTERM stops the servers as Ctrl-C does, with
// their own line, the summary in quiet mode, and status 0.
func TestServersStopOnSIGTERM(t *testing.T) {
	cases := []struct {
		argv    []string
		summary string // the quiet mode's last line
	}{
		{goCmd("multiconn-server", "127.0.0.1", "0"), ""},
		{goCmd("multiconn-server", "-quiet", "127.0.0.1", "0"), `^Server: accepted=1 closed=1 bytes_echoed=1 errors=0 `},
		{goCmd("app-server", "-quiet", "127.0.0.1", "0"), `^Server: accepted=\d+ closed=\d+ `},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.argv[1:], " "), func(t *testing.T) {
			t.Parallel()
			srv, port := startServer(t, tc.argv...)
			if tc.argv[0] == bin("multiconn-server") {
				// One echo through it, so there is something to count.
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
				require.NoError(t, err)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = c.Write([]byte("x"))
				require.NoError(t, err)
				_, err = c.Read(make([]byte, 1))
				require.NoError(t, err)
				c.Close()
				if tc.summary == "" {
					srv.WaitLines(closingRE, 1, 10*time.Second)
				}
			}
			require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
			require.Zero(t, srv.Wait(20*time.Second), srv.describe())
			lines := srv.Lines()
			if tc.summary != "" {
				require.GreaterOrEqual(t, len(lines), 2, srv.describe())
				assert.Equal(t, "Caught SIGTERM, exiting", lines[len(lines)-2])
				assert.Regexp(t, regexp.MustCompile(tc.summary), lines[len(lines)-1])
			} else {
				assert.Equal(t, "Caught SIGTERM, exiting", lines[len(lines)-1], srv.describe())
			}
			assert.Empty(t, srv.Stderr())
		})
	}
}

// TestSecondSignalExitsAtOnce: a graceful stop waits (up to 2 s) for a
// peer that does not read its echo; a second signal does not wait for it.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	srv, port := startServer(t, goCmd("multiconn-server", "-quiet", "127.0.0.1", "0")...)
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	// Send until the server stops reading: its output to us, who never
	// read, has passed its high-water mark.
	var sent atomic.Int64
	go func() {
		// sent counts whole writes only, and with small socket buffers the
		// kernel holds a few KiB past the server's 1 MiB: small writes, so
		// that sent passes 1 MiB as soon as what the server took does.
		buf := make([]byte, 1<<10)
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		for {
			n, err := c.Write(buf)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	last, since := int64(-1), time.Now()
	for time.Since(since) < 300*time.Millisecond {
		if now := sent.Load(); now != last {
			last, since = now, time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Greater(t, last, int64(1<<20), "the server's pending output is past 1 MiB")

	t0 := time.Now()
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGINT))
	code := srv.Wait(20 * time.Second)
	// Both may be pending at once, and then the runtime takes them in
	// either order: 128 plus the second's number, whichever it was.
	assert.Contains(t, []int{130, 143}, code, "exit status of a second signal: %s", srv.describe())
	assert.Less(t, time.Since(t0), 2*time.Second, "exits before the graceful stop's deadline")
}

// TestServersWithClosedOutput: a server whose stdout and stderr readers
// have gone (a "| head", a log collector that died) keeps serving. The Go
// runtime ends a program on EPIPE from descriptor 1 or 2 unless SIGPIPE is
// ignored; the first "Accepted connection" line, or a -quiet server's
// warning about one malformed frame, used to kill it with status 141.
func TestServersWithClosedOutput(t *testing.T) {
	for _, argv := range [][]string{
		{"app-server"},
		{"app-server", "-quiet"},
		{"multiconn-server"},
	} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			t.Parallel()
			outR, outW, err := os.Pipe()
			require.NoError(t, err)
			errR, errW, err := os.Pipe()
			require.NoError(t, err)
			outR.Close() // gone before the first line
			errR.Close()
			port := strconv.Itoa(freePort(t))
			srv := exec.Command(bin(argv[0]), append(argv[1:], "127.0.0.1", port)...)
			srv.Stdout, srv.Stderr = outW, errW
			exited := startKilledAtCleanup(t, srv)
			outW.Close()
			errW.Close()
			waitListening(t, port)

			// A malformed frame (a header length of zero) makes a warning
			// on stderr; then clients on connections of their own.
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
			require.NoError(t, err)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = c.Write([]byte{0, 0})
			require.NoError(t, err)
			c.Read(make([]byte, 1)) // until the server closes it
			c.Close()
			for i := range 5 {
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
				require.NoError(t, err, "connection %d: the server is gone", i)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if argv[0] == "multiconn-server" {
					_, err = c.Write([]byte("ping"))
					require.NoError(t, err)
					_, err = c.Read(make([]byte, 4))
					require.NoError(t, err, "connection %d", i)
				} else {
					frame, err := refapp.ClientRequest("search", "morpheus").AppendFrame(nil)
					require.NoError(t, err)
					_, err = c.Write(frame)
					require.NoError(t, err)
					_, err = c.Read(make([]byte, 2))
					require.NoError(t, err, "connection %d", i)
				}
				c.Close()
			}
			select {
			case <-exited:
				t.Fatalf("the server exited: %v", srv.ProcessState)
			default:
			}
			require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				t.Fatal("the server did not exit on SIGTERM")
			}
		})
	}
}
