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
