package loop

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListenDualStack: Listen("tcp", ":port"), what a server moved from
// gnet or Go's net listens on, serves IPv6 clients as well as IPv4 ones
// (it bound 0.0.0.0 and refused them), with every loop's listener under
// ReusePort; an IPv4 client's address reads as IPv4, not ::ffff:127.0.0.1.
func TestListenDualStack(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback here")
	} else {
		ln.Close()
	}
	for _, reusePort := range []bool{false, true} {
		t.Run("ReusePort="+strconv.FormatBool(reusePort), func(t *testing.T) {
			peers := make(chan netip.AddrPort, 16)
			e, err := New(Funcs{
				Open: func(c *Conn) { peers <- c.RemoteAddrPort() },
				Data: echo.Data,
			}, Options{Loops: 2, ReusePort: reusePort, Logger: quietLog})
			require.NoError(t, err)
			defer stop(t, e)
			addr, err := e.Listen("tcp", ":0")
			require.NoError(t, err)
			port := strconv.Itoa(addr.(*net.TCPAddr).Port)
			for _, host := range []string{"127.0.0.1", "::1", "127.0.0.1", "::1"} {
				c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 5*time.Second)
				require.NoError(t, err, "a %s client", host)
				assert.Equal(t, []byte(host), roundTrip(t, c, []byte(host)))
				client := c.LocalAddr().(*net.TCPAddr).AddrPort()
				c.Close()
				peer := <-peers
				assert.Equal(t, netip.AddrPortFrom(client.Addr().Unmap(), client.Port()), peer)
				assert.Equal(t, host == "127.0.0.1", peer.Addr().Is4(), "%v", peer)
			}
		})
	}
}
