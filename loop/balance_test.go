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

// TestSourceAddrHashSpread: addresses that differ only above their low
// bits (127.0.0.4, .8, .12...: hosts numbered in steps, proxies, NAT
// gateways) spread over a power-of-two number of loops too. Taken modulo
// the loops, FNV-1a's low bits depend only on the low bits of each byte,
// so with 4 loops all of these went to one.
func TestSourceAddrHashSpread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs all of 127/8 as this host's")
	}
	loopOf := make(chan int, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { loopOf <- c.Loop().ID() }},
		Options{Loops: 4, Balance: SourceAddrHash})
	used := map[int]int{}
	for i := 1; i <= 16; i++ {
		ip := net.IPv4(127, 0, byte(i>>4), byte(i<<4))
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		require.NoError(t, err)
		used[<-loopOf]++
		c.Close()
	}
	assert.Greater(t, len(used), 2, "16 addresses on %d loops: %v", len(used), used)
}
