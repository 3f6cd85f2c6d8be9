package loop

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPacketEchoAllocs: receiving a datagram, calling the handler and
// sending its reply allocate nothing on the loop once it is warm (the
// client, a net.UDPConn, allocates nothing per datagram either).
func TestPacketEchoAllocs(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skip("x/sys builds every sender's address on " + runtime.GOOS)
	}
	_, addr := startPacket(t, "udp", "127.0.0.1:0", packetEcho, Options{Loops: 1})
	c := dialUDP(t, addr)
	msg := []byte("allocation-free echo")
	for range 100 { // warm up: buffers, queues, the client's poller
		udpExchange(t, c, msg)
	}
	buf := make([]byte, 64)
	// One deadline for the lot: a datagram lost on a loaded loopback fails
	// the test rather than hanging it.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	const rounds = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range rounds {
		_, err := c.Write(msg)
		require.NoError(t, err)
		_, err = c.Read(buf)
		require.NoError(t, err)
	}
	runtime.ReadMemStats(&after)
	perDatagram := float64(after.Mallocs-before.Mallocs) / rounds
	assert.Less(t, perDatagram, 0.1, "allocations per echoed datagram")
}
