package loop

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCloseListenerRacingDials: CloseListener while clients connect, with
// one acceptor dealing to both loops: when it returns, Stats.Open counts
// every connection the engine took, each of which is served, and every
// other client's connection is refused or reset, none left hanging.
func TestCloseListenerRacingDials(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		e, addr := start(t, echo, Options{Loops: 2, ReusePort: reuse})
		var mu sync.Mutex
		var conns []net.Conn
		var wg sync.WaitGroup
		stopDial := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stopDial:
						return
					default:
					}
					c, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						continue
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, e.CloseListener(e.Addrs()[0]))
		open := e.Stats().Open
		close(stopDial)
		wg.Wait()
		served := 0
		for _, c := range conns {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("x")); err == nil {
				b := make([]byte, 1)
				if _, err := c.Read(b); err == nil {
					served++
				} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("a connection hangs: neither served nor refused")
				}
			}
			c.Close()
		}
		require.Equal(t, int(open), served, "of %d", len(conns))
		waitFor(t, "the connections to close", func() bool { return e.Stats().Open == 0 })
	}
}
