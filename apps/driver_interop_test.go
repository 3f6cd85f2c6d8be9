package apps_test

// The servers on the io_uring driver (-driver io_uring) against the Python
// clients, as the tests above run them on the default driver. Where the
// kernel has no io_uring the servers fall back to epoll, which the tests
// then check instead.

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/evsel/evsel"
)

// checkDriver: a server asked for io_uring says nothing of a fallback
// where the kernel has it.
func checkDriver(t *testing.T, srv *proc) {
	t.Helper()
	fellBack := strings.Contains(srv.Stderr(), "falling back")
	if evsel.UringAvailable() == nil {
		assert.False(t, fellBack, "io_uring available, yet: %s", srv.describe())
	} else {
		assert.True(t, fellBack, "io_uring unavailable, yet no fallback logged: %s", srv.describe())
	}
}

func TestMulticonnPythonClientGoServerIOUring(t *testing.T) {
	t.Parallel()
	srv, port := startServer(t, goCmd("multiconn-server", "-driver", "io_uring", "127.0.0.1", "0")...)
	cl := start(t, pyCmd(t, "multiconn-client.py", "127.0.0.1", strconv.Itoa(port), "10")...)
	checkClient(t, cl, 10, port, false)
	checkDriver(t, srv)
	checkServer(t, srv, 10)
}

// TestMulticonnScaleIOUring: 200 connections of 50 messages of 1,000 bytes
// through the io_uring server, every byte verified by the client.
func TestMulticonnScaleIOUring(t *testing.T) {
	t.Parallel()
	srv, port := startServer(t, goCmd("multiconn-server", "-quiet", "-driver", "io_uring", "127.0.0.1", "0")...)
	cl := run(t, 30*time.Second, goCmd("multiconn-client", "-quiet", "-messages", "50", "-size", "1000", "127.0.0.1", strconv.Itoa(port), "200")...)
	if cl.code != 0 {
		t.Fatalf("client exit code %d: %s", cl.code, cl.describe())
	}
	lines := cl.Lines()
	var m []string
	if len(lines) == 1 {
		m = summaryRE.FindStringSubmatch(lines[0])
	}
	if m == nil || strings.Join(m[1:], " ") != "200 200 10000 10000000 10000000 0" {
		t.Fatalf("client output: %s", cl.describe())
	}
	checkDriver(t, srv)
	if code := srv.Interrupt(); code != 0 {
		t.Fatalf("server exit code %d: %s", code, srv.describe())
	}
}

// TestAppServerIOUring: the Python reference client against the Go
// application server on io_uring, every reference exchange.
func TestAppServerIOUring(t *testing.T) {
	srv, port := startAppServer(t, bin("app-server"), "-driver", "io_uring")
	for _, tc := range appCases {
		out := appOutput(t, append(appScript(t, "app-client.py"), "127.0.0.1", port, tc.action, tc.value)...)
		assert.Contains(t, out, tc.got+"\n")
	}
	checkDriver(t, srv)
}

// TestUDPServerIOUring: the datagram server on io_uring, two loops, under
// the Go client's load.
func TestUDPServerIOUring(t *testing.T) {
	udpBins(t)
	srv, port := startServer(t, goCmd("udp-echo-server", "-loops", "2", "-driver", "io_uring", "127.0.0.1", "0")...)
	checkUDPLoad(t, run(t, 60*time.Second, goCmd("udp-echo-client", "-port", strconv.Itoa(port), "-c", "20", "-n", "500", "-size", "1400", "load")...), 20, 10000)
	checkDriver(t, srv)
	if code := srv.Interrupt(); code != 0 {
		t.Errorf("server exit code %d: %s", code, srv.describe())
	}
}
