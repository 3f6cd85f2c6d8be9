package evsel_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// checkKeepAlive reads back what SetKeepAliveConfig set, rounding included.
func checkKeepAlive(t *testing.T, s *evsel.Socket) {
	t.Helper()
	require.NoError(t, s.SetKeepAliveConfig(net.KeepAliveConfig{
		Enable: true, Idle: 1500 * time.Millisecond, Interval: 7 * time.Second, Count: 4,
	}))
	get := func(level, opt int) int {
		v, err := unix.GetsockoptInt(int(s.Fd()), level, opt)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, 1, get(unix.SOL_SOCKET, unix.SO_KEEPALIVE))
	assert.Equal(t, 2, get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE))
	assert.Equal(t, 7, get(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL))
	assert.Equal(t, 4, get(unix.IPPROTO_TCP, unix.TCP_KEEPCNT))
	require.NoError(t, s.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}))
	assert.Equal(t, 2, get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE), "a negative field leaves the option alone")
}
