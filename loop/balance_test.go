package loop

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSourceAddrHash: every connection from one client address lands on
// the same loop, whatever its port, and different addresses spread over
// the loops.
func TestSourceAddrHash(t *testing.T) {
	loopOf := make(chan int, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { loopOf <- c.Loop().ID() }},
		Options{Loops: 4, Balance: SourceAddrHash})
	hosts := []string{"127.0.0.1"}
	if runtime.GOOS == "linux" { // all of 127/8 is this host's there
		hosts = append(hosts, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
	}
	used := map[int]bool{}
	for _, host := range hosts {
		first := -1
		for range 6 {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", addr)
			require.NoError(t, err)
			id := <-loopOf
			c.Close()
			if first < 0 {
				first = id
			}
			assert.Equal(t, first, id, "a connection from %s on another loop", host)
		}
		used[first] = true
	}
	if len(hosts) > 1 {
		assert.Greater(t, len(used), 1, "%d addresses all on one loop", len(hosts))
	}
}
