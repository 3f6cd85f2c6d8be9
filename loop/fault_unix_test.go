//go:build unix

package loop

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// listenFull returns the address of a listener that never accepts and whose
// backlog is already full, so a further connect hangs in SYN_SENT.
func listenFull(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(fd, 0))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	// Fill the backlog (a backlog of 0 still queues one or two).
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

// TestDialTimeout: a connect that hangs (a listener whose tiny backlog is
// full drops further SYNs) ends in OnClose with ErrDialTimeout.
func TestDialTimeout(t *testing.T) {
	reasons := make(chan error, 1)
	client, err := New(Funcs{Close: func(c *Conn, err error) { reasons <- err }}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, client)
	_, err = client.Dial("tcp", listenFull(t), 100*time.Millisecond, nil)
	require.NoError(t, err)
	select {
	case err := <-reasons:
		assert.ErrorIs(t, err, ErrDialTimeout)
	case <-time.After(5 * time.Second):
		t.Fatal("dial did not time out")
	}
}
