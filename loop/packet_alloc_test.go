package loop

import (
	"context"
	"runtime"
	"testing"
	"time"
	"unsafe"

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

// TestPacketKeptBuffers: sockets that have sent everything keep their
// buffers for their next datagrams, but a loop's sockets keep no more than
// MaxPacketQueueBytes between them, however many once queued a burst.
func TestPacketKeptBuffers(t *testing.T) {
	const sockets, burst, size = 30, 600, 1000 // 600 KB each, under the 1 MiB one socket may keep
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	sink := udpEchoServer(t).String()
	ignore := PacketFunc(func(*PacketConn, []byte, PacketAddr) {})
	l := e.Loops()[0]
	buf := make([]byte, size)
	for range sockets {
		pc, err := e.DialPacket(context.Background(), "udp", sink, ignore)
		require.NoError(t, err)
		done := make(chan struct{})
		require.NoError(t, l.Do(func() { // one burst per iteration: under the loop's queue bound
			for range burst {
				pc.Write(buf)
			}
			close(done)
		}))
		<-done
	}
	waitFor(t, "every burst sent", func() bool {
		st := e.Stats()
		return st.DatagramsOut+st.DatagramsDropped == sockets*burst
	})
	held := make(chan int, 1)
	require.NoError(t, l.Do(func() {
		n := 0
		for _, pc := range l.pk.conns {
			n += cap(pc.arena) + cap(pc.queue)*int(unsafe.Sizeof(pendingDatagram{}))
		}
		held <- n
	}))
	assert.LessOrEqual(t, <-held, e.Options().MaxPacketQueueBytes, "drained sockets keep their bursts' memory")
}
