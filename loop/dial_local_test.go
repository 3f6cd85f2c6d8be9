package loop

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWithLocalAddr: a Dial bound to a source address, and to a source
// port, reaches the server from them; one whose address is not the
// host's fails like a refused connect, in OnClose.
func TestWithLocalAddr(t *testing.T) {
	peers := make(chan netip.AddrPort, 4)
	_, addr := start(t, Funcs{Open: func(c *Conn) { peers <- c.RemoteAddrPort() }}, Options{})
	e := newClientEngine(t)
	closed := make(chan error, 4)
	e.h.(*switchHandler).set(Funcs{Close: func(c *Conn, err error) { closed <- err }})
	dial := func(local net.Addr) {
		t.Helper()
		_, err := e.Dial(context.Background(), "tcp", addr, WithLocalAddr(local))
		require.NoError(t, err)
	}

	dial(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}) // loopback is all of 127/8
	require.Equal(t, netip.MustParseAddr("127.0.0.2"), (<-peers).Addr())

	// A port free a moment ago; another package's test, running beside
	// this one, may take it first, so try a few.
	for try := 0; ; try++ {
		free, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := free.Addr().(*net.TCPAddr).Port
		free.Close()
		dial(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		select {
		case peer := <-peers:
			require.Equal(t, uint16(port), peer.Port())
		case err := <-closed:
			require.Less(t, try, 3, "binding a free port failed: %v", err)
			continue
		}
		break
	}

	dial(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}) // TEST-NET-1: no address of this host
	err := <-closed
	require.Error(t, err)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	require.Empty(t, peers)
}
