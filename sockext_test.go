package evsel_test

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAddrPort: LocalAddrPort and RemoteAddrPort agree with the net.Addr
// forms, on both ends of a connection, and allocate nothing.
func TestAddrPort(t *testing.T) {
	client, server := tcpPair(t)
	for _, s := range [...]struct {
		name        string
		local, peer func() (netip.AddrPort, error)
		addr        func() (net.Addr, error)
	}{
		{"client", client.LocalAddrPort, client.RemoteAddrPort, client.LocalAddr},
		{"server", server.LocalAddrPort, server.RemoteAddrPort, server.LocalAddr},
	} {
		local, err := s.local()
		require.NoError(t, err, s.name)
		want, err := s.addr()
		require.NoError(t, err)
		w := want.(*net.TCPAddr).AddrPort()
		assert.Equal(t, netip.AddrPortFrom(w.Addr().Unmap(), w.Port()), local, s.name)
		assert.Equal(t, netip.MustParseAddr("127.0.0.1"), local.Addr(), s.name)
	}
	peer, err := client.RemoteAddrPort()
	require.NoError(t, err)
	local, err := server.LocalAddrPort()
	require.NoError(t, err)
	assert.Equal(t, local, peer)

	if runtime.GOOS == "darwin" || runtime.GOOS == "openbsd" {
		return // through libc, which allocates
	}
	allocs := testing.AllocsPerRun(100, func() {
		client.LocalAddrPort()
		client.RemoteAddrPort()
	})
	assert.Zero(t, allocs)

	require.NoError(t, client.Close())
	_, err = client.LocalAddrPort()
	assert.Error(t, err)
}

func TestSetKeepAliveConfig(t *testing.T) {
	client, _ := tcpPair(t)
	for _, cfg := range []net.KeepAliveConfig{
		{Enable: true},
		{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3},
		{Enable: true, Idle: 1500 * time.Millisecond, Interval: -1, Count: -1},
		{Enable: false},
	} {
		err := client.SetKeepAliveConfig(cfg)
		if runtime.GOOS == "openbsd" && cfg.Enable {
			assert.ErrorIs(t, err, errors.ErrUnsupported)
			continue
		}
		assert.NoError(t, err, "%+v", cfg)
	}
	checkKeepAlive(t, client)
}
