// Package testenv tells the test suites what platform they really run on,
// where that changes how long a correct operation may take.
package testenv

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Wine reports whether the test binary runs under Wine rather than Windows.
var Wine = underWine()

// wineSlack is how much longer than natively a connection-heavy test may
// take under Wine. Wine's wineserver is one thread that serves every socket
// call of every Wine process, and Wine 8 keeps all outstanding AFD polls in
// one list that it walks on each socket call and each readiness change
// (sock_get_poll_events, complete_async_polls in server/sock.c): with 10,000
// sockets polled, each call costs a walk of 10,000 entries. Measured with
// .ci/wine-afd-cost, a one-byte round trip goes from 1.2 ms with no other
// poll outstanding to 5.1 ms with 8,000, and loop's TestManyConnections
// (10,000 polled sockets in one process) took 100 to 280 s on a loaded
// two-core machine, every byte verified, against 30 s on a quiet one.
const wineSlack = 8

// Bound stretches d, a test's bound on an operation that a correct
// implementation completes (a watchdog, a dial or test deadline), by the
// platform's known slowness. It never judges speed.
func Bound(d time.Duration) time.Duration {
	if Wine {
		return d * wineSlack
	}
	return d
}

// NeedShortUnixDgramQueue skips t unless a Unix datagram receiver that
// does not read fills its own queue before its sender's buffer: on
// Windows, which has no Unix datagram sockets, and where Linux's
// net.unix.max_dgram_qlen is over 64 (10 in a new network namespace, 512
// on many hosts), since Linux charges unread datagrams to their sender.
func NeedShortUnixDgramQueue(t testing.TB) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix datagram sockets on Windows")
	}
	b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen")
	if err != nil {
		return // not Linux: the queue's limit is the socket buffer's
	}
	if q, _ := strconv.Atoi(strings.TrimSpace(string(b))); q > 64 {
		t.Skipf("net.unix.max_dgram_qlen is %d: a sender's buffer fills before its receiver's queue (see evsel.ErrReceiverFull)", q)
	}
}

// Backlog is how many connections a listener's accept queue holds at most:
// Linux caps every listen backlog at net.core.somaxconn (4096 by default,
// and as little as a container's administrator likes). Elsewhere it is
// large enough for any test.
func Backlog() int {
	if q, ok := procInts("/proc/sys/net/core/somaxconn"); ok {
		return q[0]
	}
	return 1 << 16
}

// NeedBacklog skips t unless a listener's accept queue holds n
// connections, for a test whose server does not accept them on purpose.
// A test whose server does accept should pace its dials by Backlog
// instead: past a full queue the kernel drops handshakes, and with
// SYN cookies resets connections their clients think open.
func NeedBacklog(t testing.TB, n int) {
	t.Helper()
	if b := Backlog(); b < n {
		t.Skipf("net.core.somaxconn is %d: the accept queue cannot hold the %d connections the test leaves there", b, n)
	}
}

// NeedLocalPorts skips t unless n connections to one address can be open
// at once, each with a local port of its own from Linux's
// net.ipv4.ip_local_port_range.
func NeedLocalPorts(t testing.TB, n int) {
	t.Helper()
	r, ok := procInts("/proc/sys/net/ipv4/ip_local_port_range")
	if !ok || len(r) != 2 {
		return
	}
	if ports := r[1] - r[0] + 1; ports < n {
		t.Skipf("net.ipv4.ip_local_port_range %d-%d has %d ports: fewer than the %d connections the test holds open", r[0], r[1], ports, n)
	}
}

// procInts reads the numbers in a file under /proc/sys; ok is false where
// there is none (not Linux).
func procInts(name string) (v []int, ok bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, false
	}
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, false
		}
		v = append(v, n)
	}
	return v, len(v) > 0
}
