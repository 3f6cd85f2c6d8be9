package loop

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEchoAllocs: serving a message on an established connection allocates
// nothing in the engine. Allocation counts are deterministic, unlike time,
// so this is a unit test; the race detector allocates, so it runs without.
func TestEchoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; CI runs this test without -race")
	}
	_, addr := start(t, echo, Options{Loops: 1})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	roundTrip := func() {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(msg)
		_, err := c.Read(buf)
		require.NoError(t, err)
	}
	for i := 0; i < 100; i++ {
		roundTrip() // warm up: chunk pools, selector tables
	}
	// AllocsPerRun counts the whole process: the client side here (net
	// package) allocates nothing per round trip either once warm.
	assert.Zero(t, testing.AllocsPerRun(200, roundTrip))
}
