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

// TestListenPacketDualStack: "udp" with no host serves IPv4 and IPv6
// senders on one socket per loop, as Listen's ":port" does; an IPv4
// sender is seen unmapped and answered.
func TestListenPacketDualStack(t *testing.T) {
	if l, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback here")
	} else {
		l.Close()
	}
	senders := make(chan netip.AddrPort, 16)
	_, addr := startPacket(t, "udp", ":0", PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		select {
		case senders <- from.AddrPort:
		default:
		}
		pc.WriteTo(data, from)
	}), Options{Loops: 2})
	port := strconv.Itoa(addr.(*net.UDPAddr).Port)
	for _, host := range []string{"127.0.0.1", "::1"} {
		c, err := net.Dial("udp", net.JoinHostPort(host, port))
		require.NoError(t, err)
		defer c.Close()
		msg := []byte("from " + host)
		assert.Equal(t, msg, udpExchange(t, c.(*net.UDPConn), msg))
		from := <-senders
		assert.Equal(t, host == "127.0.0.1", from.Addr().Is4(), "%v", from)
		for len(senders) > 0 { // resends
			<-senders
		}
	}
}
