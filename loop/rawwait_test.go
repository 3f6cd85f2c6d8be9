package loop

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRawWaitFair: a loop waits raw only while every loop of the process
// has a P: a second engine's loops past GOMAXPROCS turn it off for all,
// and it comes back when they stop or GOMAXPROCS grows.
func TestRawWaitFair(t *testing.T) {
	// Counted from the loops running already (none, unless an earlier
	// test's are still on their way out).
	procs := int(loopsRunning.Load()) + 2
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	fair := func(e *Engine) bool {
		t.Helper()
		answer := make(chan bool, 1)
		l := e.Loops()[0]
		require.NoError(t, l.Do(func() {
			l.maxprocsAt = 0 // read GOMAXPROCS now
			answer <- l.rawWaitFair()
		}))
		return within(t, answer, 10*time.Second, "the loop did not run Do")
	}
	first, _ := start(t, Funcs{}, Options{Loops: 1})
	assert.True(t, fair(first), "one loop, two Ps")

	second, err := New(Funcs{}, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	assert.False(t, fair(first), "three loops, two Ps")
	assert.False(t, fair(second))
	runtime.GOMAXPROCS(procs + 1)
	assert.True(t, fair(second), "three loops, three Ps")
	runtime.GOMAXPROCS(procs)
	stop(t, second)
	assert.True(t, fair(first), "the second engine's loops are gone")
}
