package apps_test

import (
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idleConns and idleBudget are issue 13's bound: at 10,000 idle
// connections a server holds at most 256 bytes of resident memory for each,
// as it runs (no collection forced). loop's TestIdleConnectionMemory checks
// the engine's heap share; this checks what a whole program adds.
const (
	idleConns  = 10000
	idleBudget = 256
)

// TestMulticonnServerIdleMemory starts multiconn-server with its defaults
// (printing a line per connection, every bound on), opens idleConns
// connections to it from this process and checks the growth of the
// server's VmRSS per connection. It reads the server's memory and
// descriptors from /proc, so it is Linux's.
func TestMulticonnServerIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	for _, quiet := range []bool{false, true} {
		name := "printing"
		argv := goCmd("multiconn-server", "127.0.0.1", "0")
		if quiet {
			name = "quiet"
			argv = goCmd("multiconn-server", "-quiet", "127.0.0.1", "0")
		}
		t.Run(name, func(t *testing.T) {
			perConn := idleMemory(t, argv, quiet)
			t.Logf("%s: %.0f B of RSS per idle connection at %d", name, perConn, idleConns)
			assert.LessOrEqual(t, perConn, float64(idleBudget))
		})
	}
}

// idleMemory runs the server argv, opens idleConns connections and returns
// its RSS growth per connection once it holds them all and its RSS has
// settled. The connections are dropped with a reset at the end, so that
// tens of thousands of test sockets do not sit in TIME_WAIT.
func idleMemory(t *testing.T, argv []string, quiet bool) float64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < idleConns+256 {
		t.Skipf("open-file limit %d is too low for %d connections (%v)", rl.Cur, idleConns, err)
	}
	srv, port := startServer(t, argv...)
	pid := srv.cmd.Process.Pid
	time.Sleep(300 * time.Millisecond) // let the runtime settle after start-up
	before := vmRSS(t, pid)
	fds0 := countFDs(t, pid)

	conns := make([]*net.TCPConn, 0, idleConns)
	defer func() {
		srv.cmd.Process.Kill()
		for _, c := range conns {
			c.SetLinger(0)
			c.Close()
		}
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range idleConns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		conns = append(conns, c.(*net.TCPConn))
	}
	// The server holds a descriptor for each, and has printed its lines
	// (the queue it prints through is drained), before RSS is read.
	deadline := time.Now().Add(20 * time.Second)
	for countFDs(t, pid)-fds0 < idleConns {
		require.True(t, time.Now().Before(deadline), "the server accepted %d of %d connections", countFDs(t, pid)-fds0, idleConns)
		time.Sleep(20 * time.Millisecond)
	}
	if !quiet {
		srv.WaitLines(acceptedRE, idleConns, 20*time.Second)
	}
	after := vmRSS(t, pid)
	for range 15 {
		time.Sleep(200 * time.Millisecond)
		now := vmRSS(t, pid)
		settled := now-after <= 16<<10 && after-now <= 16<<10
		after = now
		if settled {
			break
		}
	}
	// Still all open: none was shed or timed out while RSS was read.
	assert.GreaterOrEqual(t, countFDs(t, pid)-fds0, idleConns)
	runtime.KeepAlive(conns)
	return float64(after-before) / idleConns
}

// vmRSS is the process's resident set in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// countFDs is how many descriptors the process holds.
func countFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	require.NoError(t, err)
	return len(ents)
}
