package loop

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUringFloodDoesNotStarve: on io_uring, a loop whose connections
// receive more per iteration than its provided buffers hold has some
// receives end with ENOBUFS. A connection whose receive keeps landing
// behind the flood's must still be read: a client sending little among
// flooders is answered promptly throughout, as on epoll.
func TestUringFloodDoesNotStarve(t *testing.T) {
	needUring(t)
	const flooders = 100
	sink := Funcs{Data: func(c *Conn) {
		in := c.Inbound()
		if bytes.HasPrefix(in, []byte("ping\n")) {
			c.Write(in[:5])
		}
		c.Consume(len(in))
	}}
	// A budget far above what the flood holds: it pauses no one, but caps
	// each receive at ReadBufferSize, as app-server's default does.
	_, addr := start(t, sink, Options{Loops: 1, Driver: DriverIOUring, MaxMemory: 1 << 30})
	good := dial(t, addr)
	require.Equal(t, []byte("ping\n"), roundTrip(t, good, []byte("ping\n")))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range flooders {
		c := dial(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // the flood under way
	var worst time.Duration
	for begin := time.Now(); time.Since(begin) < 2*time.Second; {
		t0 := time.Now()
		good.SetDeadline(t0.Add(3 * time.Second))
		_, err := good.Write([]byte("ping\n"))
		require.NoError(t, err)
		buf := make([]byte, 5)
		_, err = io.ReadFull(good, buf)
		require.NoError(t, err, "the client among the flood was not answered")
		worst = max(worst, time.Since(t0))
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("slowest round trip among the flood: %v", worst)
	// Tens of milliseconds here, under -race too; starved, seconds.
	require.Less(t, worst, time.Second, "the client among the flood waited behind it")
}
