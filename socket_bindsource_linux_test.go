package evsel_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// TestBindSourceNoPort: on Linux an address without a port leaves the
// port to the connect (IP_BIND_ADDRESS_NO_PORT); without an address there
// is nothing to share, and the option stays off.
func TestBindSourceNoPort(t *testing.T) {
	noPort := func(src *net.TCPAddr) (int, int) {
		s, err := evsel.NewSocket(evsel.IPv4)
		require.NoError(t, err)
		cleanupClose(t, s)
		require.NoError(t, s.BindSource(src))
		v, err := unix.GetsockoptInt(int(s.Fd()), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT)
		require.NoError(t, err)
		local, err := s.LocalAddr()
		require.NoError(t, err)
		return v, local.(*net.TCPAddr).Port
	}
	v, port := noPort(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.Equal(t, 1, v)
	require.Zero(t, port, "the port waits for the connect")
	v, port = noPort(&net.TCPAddr{})
	require.Zero(t, v)
	require.NotZero(t, port)
}
