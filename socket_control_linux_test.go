package evsel_test

import (
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// gnet's WithBindToDevice, done with Control as with Go's net: the
// listener is bound to the loopback device and still reached on it.
func TestListenConfigControlBindToDevice(t *testing.T) {
	bindLo := func(network, address string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "lo")
		}); cerr != nil {
			return cerr
		}
		return err
	}
	ln, err := evsel.ListenConfig{Control: bindLo}.Listen("tcp", "127.0.0.1:0")
	if errors.Is(err, unix.EPERM) {
		t.Skip("SO_BINDTODEVICE needs CAP_NET_RAW here")
	}
	require.NoError(t, err)
	cleanupClose(t, ln)
	dev, err := unix.GetsockoptString(int(ln.Fd()), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
	require.NoError(t, err)
	assert.Equal(t, "lo", dev)

	port := tcpAddr(t, mustLocal(t, ln)).Port
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	require.NoError(t, err)
	c.Close()
}

// Unix sockets are named as Go's net names them, with their path.
func TestListenConfigControlUnix(t *testing.T) {
	var calls []controlCall
	lc := evsel.ListenConfig{Control: recordControl(&calls, nil)}
	dir := t.TempDir()
	ln, err := lc.Listen("unix", filepath.Join(dir, "s"))
	require.NoError(t, err)
	cleanupClose(t, ln)
	pc, err := lc.ListenPacket("unixgram", filepath.Join(dir, "d"))
	require.NoError(t, err)
	cleanupClose(t, pc)
	assert.Equal(t, []controlCall{
		{"unix", filepath.Join(dir, "s"), ln.Fd()},
		{"unixgram", filepath.Join(dir, "d"), pc.Fd()},
	}, calls)
}
