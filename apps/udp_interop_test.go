package apps_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The UDP programs are built apart from the others' list (programs), once,
// the first time a test needs them.
var (
	udpBuild    sync.Once
	udpBuildErr error
)

func udpBins(t *testing.T) {
	t.Helper()
	udpBuild.Do(func() {
		out, err := exec.Command(goTool(), "build", "-o", binDir+"/", "./udp-echo-server", "./udp-echo-client").CombinedOutput()
		if err != nil {
			udpBuildErr = &buildError{err, string(out)}
		}
	})
	if udpBuildErr != nil {
		t.Fatal(udpBuildErr)
	}
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

var (
	udpSummaryRE = regexp.MustCompile(`^Summary: sockets=(\d+) datagrams=(\d+) bytes_sent=\d+ bytes_verified=\d+ resent=\d+ elapsed=\S+s rate=\S+/s errors=(\d+)$`)
	udpServerRE  = regexp.MustCompile(`^Server: datagrams_in=(\d+) datagrams_out=(\d+) bytes_in=\d+ bytes_out=\d+ dropped=(\d+) truncated=(\d+)$`)
	pyLoadRE     = regexp.MustCompile(`^verified=(\d+) resent=(\d+) mismatches=(\d+)$`)
)

// TestUDPPythonClientGoServer: 50 plain Python datagram sockets send 1,000
// datagrams each, of random sizes up to 1,400 bytes, to udp-echo-server;
// every echo is verified, and every datagram answered eventually.
func TestUDPPythonClientGoServer(t *testing.T) {
	udpBins(t)
	srv, port := startServer(t, goCmd("udp-echo-server", "127.0.0.1", "0")...)
	cl := run(t, 150*time.Second, pyCmd(t, "udp-load-client.py", "127.0.0.1", strconv.Itoa(port), "50", "1000", "1400")...)
	lines := cl.Lines()
	if cl.code != 0 || len(lines) == 0 {
		t.Fatalf("python client exit code %d: %s", cl.code, cl.describe())
	}
	m := pyLoadRE.FindStringSubmatch(lines[len(lines)-1])
	if m == nil || m[1] != "50000" || m[3] != "0" {
		t.Fatalf("python client: %s", cl.describe())
	}
	t.Logf("python client: %s", m[0])
	if code := srv.Interrupt(); code != 0 {
		t.Fatalf("server exit code %d after SIGINT: %s", code, srv.describe())
	}
	out := srv.Lines()
	if len(out) < 3 || out[len(out)-2] != "Caught keyboard interrupt, exiting" {
		t.Fatalf("server output: %s", srv.describe())
	}
	sm := udpServerRE.FindStringSubmatch(out[len(out)-1])
	if sm == nil {
		t.Fatalf("server summary: %s", srv.describe())
	}
	in, _ := strconv.Atoi(sm[1])
	if in < 50000 || sm[1] != sm[2] || sm[3] != "0" || sm[4] != "0" {
		t.Errorf("server echoed %s of %s datagrams (dropped %s, truncated %s), want all of at least 50000",
			sm[2], sm[1], sm[3], sm[4])
	}
}

// TestUDPGoClientPythonServer: udp-echo-client against the Python echo
// server, as the Python documentation's client would print it, and in load
// mode with every datagram verified.
func TestUDPGoClientPythonServer(t *testing.T) {
	udpBins(t)
	_, port := startServer(t, pyCmd(t, "udp-echo-server.py", "127.0.0.1", "0")...)
	p := strconv.Itoa(port)
	cl := run(t, 20*time.Second, goCmd("udp-echo-client", "-port", p, "hello", "UDP", "world")...)
	want := []string{"Sent:     hello UDP world", "Received: hello UDP world"}
	if cl.code != 0 || strings.Join(cl.Lines(), "\n") != strings.Join(want, "\n") {
		t.Errorf("client, want %q: %s", want, cl.describe())
	}
	checkUDPLoad(t, run(t, 60*time.Second, goCmd("udp-echo-client", "-port", p, "-c", "10", "-n", "200", "-size", "1000")...), 10, 2000)
}

// TestUDPGoBoth: the Go client and server together, the server on the
// default port's flag form and several loops.
func TestUDPGoBoth(t *testing.T) {
	udpBins(t)
	srv, port := startServer(t, goCmd("udp-echo-server", "-loops", "2", "127.0.0.1", "0")...)
	p := strconv.Itoa(port)
	cl := run(t, 20*time.Second, goCmd("udp-echo-client", "-port", p)...)
	want := []string{"Sent:     ", "Received: "}
	if cl.code != 0 || strings.Join(cl.Lines(), "\n") != strings.Join(want, "\n") {
		t.Errorf("an empty message is an empty datagram, echoed: %s", cl.describe())
	}
	checkUDPLoad(t, run(t, 60*time.Second, goCmd("udp-echo-client", "-port", p, "-c", "20", "-n", "500", "-size", "1400", "load")...), 20, 10000)
	if code := srv.Interrupt(); code != 0 {
		t.Errorf("server exit code %d: %s", code, srv.describe())
	}
}

func checkUDPLoad(t *testing.T, cl *proc, sockets, datagrams int) {
	t.Helper()
	lines := cl.Lines()
	if cl.code != 0 || len(lines) != 1 {
		t.Fatalf("load client exit code %d: %s", cl.code, cl.describe())
	}
	m := udpSummaryRE.FindStringSubmatch(lines[0])
	if m == nil || m[1] != strconv.Itoa(sockets) || m[2] != strconv.Itoa(datagrams) || m[3] != "0" {
		t.Errorf("load summary %q, want %d sockets, %d datagrams, no errors", lines[0], sockets, datagrams)
	}
}

// TestUDPClientNoServer: nothing listening is an error after the resends.
func TestUDPClientNoServer(t *testing.T) {
	udpBins(t)
	cl := run(t, 20*time.Second, goCmd("udp-echo-client", "-port", strconv.Itoa(freePort(t)), "-timeout", "50ms", "-retries", "2", "hi")...)
	if cl.code != 1 || !strings.Contains(cl.Stderr(), "not answered after 3 sends") {
		t.Errorf("want exit 1 and an unanswered datagram: %s", cl.describe())
	}
}

// TestUDPServerUsage: a wrong argument count is a usage line and exit 1.
func TestUDPServerUsage(t *testing.T) {
	udpBins(t)
	p := run(t, 10*time.Second, goCmd("udp-echo-server", "127.0.0.1")...)
	want := "Usage: " + bin("udp-echo-server") + " [host port]"
	if lines := p.Lines(); p.code != 1 || len(lines) != 1 || lines[0] != want {
		t.Errorf("want exit 1 and %q: %s", want, p.describe())
	}
}

// TestUDPServerSIGTERM: SIGTERM stops udp-echo-server as Ctrl-C does,
// with exit status 0 and its counters.
func TestUDPServerSIGTERM(t *testing.T) {
	udpBins(t)
	srv, port := startServer(t, goCmd("udp-echo-server", "127.0.0.1", "0")...)
	cl := run(t, 20*time.Second, goCmd("udp-echo-client", "-port", strconv.Itoa(port), "one")...)
	if cl.code != 0 {
		t.Fatalf("client: %s", cl.describe())
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := srv.Wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM: %s", code, srv.describe())
	}
	out := srv.Lines()
	if len(out) != 3 || out[1] != "Caught SIGTERM, exiting" {
		t.Fatalf("server output: %s", srv.describe())
	}
	if m := udpServerRE.FindStringSubmatch(out[2]); m == nil || m[1] != "1" || m[2] != "1" {
		t.Errorf("server summary %q, want one datagram in and out", out[2])
	}
}
