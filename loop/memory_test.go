//go:build !windows

// The 256-byte budget is the unix backends' (epoll, kqueue, poll keep no
// per-descriptor state in user space); IOCP needs a poll record per socket.

package loop

import (
	"runtime"
	"testing"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIdleConnectionMemory: what the engine keeps on the Go heap for an
// idle connection (Conn, descriptor table slot) stays within 256 bytes.
// bench/ measures the same thing as resident memory from outside.
func TestIdleConnectionMemory(t *testing.T) {
	const n = 2000
	testenv.NeedLocalPorts(t, n)
	e, addr := start(t, Funcs{}, Options{Loops: 1})
	clients := make([]evsel.Socket, n) // by value: no per-client heap object survives
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pending := max(testenv.Backlog()/2, 1) // what the kernel queues past it is lost (TestManyConnections)
	dialing := time.Now().Add(testenv.Bound(10 * time.Second))
	for i := range clients {
		for i-int(e.Stats().Accepted) >= pending {
			require.True(t, time.Now().Before(dialing), "the server accepted %d of %d connections dialed", e.Stats().Accepted, i)
			time.Sleep(time.Millisecond)
		}
		s, err := evsel.Dial("tcp", addr)
		require.NoError(t, err)
		clients[i] = *s
	}
	defer func() {
		for i := range clients {
			clients[i].Close()
		}
	}()
	waitFor(t, "connections", func() bool { return e.Stats().Open == n })
	runtime.GC()
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d B of heap per idle connection", perConn)
	assert.LessOrEqual(t, perConn, int64(256))
}
