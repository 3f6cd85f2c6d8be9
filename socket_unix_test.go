//go:build unix

package evsel_test

import (
	"io"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// checkOptions reads back what TestOptionSetters set last.
func checkOptions(t *testing.T, s *evsel.Socket) {
	t.Helper()
	fd := int(s.Fd())
	get := func(level, opt int) int {
		t.Helper()
		v, err := unix.GetsockoptInt(fd, level, opt)
		require.NoError(t, err)
		return v
	}
	assert.Zero(t, get(unix.IPPROTO_TCP, unix.TCP_NODELAY))
	assert.NotZero(t, get(unix.SOL_SOCKET, unix.SO_KEEPALIVE))
	assert.NotZero(t, get(unix.SOL_SOCKET, unix.SO_REUSEADDR))
	assert.NotZero(t, get(unix.SOL_SOCKET, unix.SO_REUSEPORT))
	assert.GreaterOrEqual(t, get(unix.SOL_SOCKET, unix.SO_RCVBUF), 32<<10)
	assert.GreaterOrEqual(t, get(unix.SOL_SOCKET, unix.SO_SNDBUF), 32<<10)
	l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
	require.NoError(t, err)
	assert.Equal(t, unix.Linger{Onoff: 1, Linger: 0}, *l)
}

// checkDescriptorFlags asserts fd is non-blocking and close-on-exec, as
// every socket evsel hands out must be.
func checkDescriptorFlags(t *testing.T, s *evsel.Socket) {
	t.Helper()
	fl, err := unix.FcntlInt(s.Fd(), unix.F_GETFL, 0)
	require.NoError(t, err)
	assert.NotZero(t, fl&unix.O_NONBLOCK, "fd %d is blocking", s.Fd())
	fd, err := unix.FcntlInt(s.Fd(), unix.F_GETFD, 0)
	require.NoError(t, err)
	assert.NotZero(t, fd&unix.FD_CLOEXEC, "fd %d is inherited by exec", s.Fd())
}

func TestDescriptorFlags(t *testing.T) {
	for _, f := range []evsel.Family{evsel.IPv4, evsel.Unix} {
		s, err := evsel.NewSocket(f)
		require.NoError(t, err)
		checkDescriptorFlags(t, s)
		require.NoError(t, s.Close())
	}
	a, b := socketPair(t)
	checkDescriptorFlags(t, a)
	checkDescriptorFlags(t, b)
	client, server := tcpPair(t)
	checkDescriptorFlags(t, client)
	checkDescriptorFlags(t, server)
}

// TestSocketIsOneWord: an engine keeps a Socket per connection, and on unix
// the descriptor is all a Socket holds.
func TestSocketIsOneWord(t *testing.T) {
	assert.Equal(t, unsafe.Sizeof(uintptr(0)), unsafe.Sizeof(evsel.Socket{}))
}

func TestSocketpair(t *testing.T) {
	a, b := socketPair(t)
	assert.Equal(t, evsel.Unix, a.Family())
	assert.Equal(t, evsel.Unix, b.Family())
	_, err := a.Read(make([]byte, 8))
	assert.Equal(t, evsel.ErrWouldBlock, err)
	exchange(t, a, b)
	require.NoError(t, b.Close())
	_, err = a.Read(make([]byte, 8))
	assert.ErrorIs(t, err, io.EOF)
}
