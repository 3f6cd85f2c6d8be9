//go:build unix

package loop

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUnixListenerFileRemoved: the file of a Unix socket the engine bound
// is gone once it stops listening, so that a restarted server listens on
// the same path (it failed with "address already in use"); a socket handed
// on by ListenerFiles keeps its file, which its successor still serves.
func TestUnixListenerFileRemoved(t *testing.T) {
	listen := func(t *testing.T, path string) *Engine {
		t.Helper()
		e, err := New(echo, Options{Loops: 2, Logger: quietLog})
		require.NoError(t, err)
		_, err = e.Listen("unix", path)
		if err != nil {
			stop(t, e)
		}
		require.NoError(t, err)
		c, err := net.DialTimeout("unix", path, 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, []byte("up"), roundTrip(t, c, []byte("up")))
		c.Close()
		return e
	}
	gone := func(t *testing.T, path string) {
		t.Helper()
		_, err := os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist, "the socket file stays behind")
	}

	t.Run("Stop", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s")
		stop(t, listen(t, path))
		gone(t, path)
		stop(t, listen(t, path)) // the restart
	})
	t.Run("StopAccepting", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s")
		e := listen(t, path)
		require.NoError(t, e.StopAccepting())
		gone(t, path)
		stop(t, e)
	})
	t.Run("handed on", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s")
		e := listen(t, path)
		files, err := e.ListenerFiles()
		require.NoError(t, err)
		require.Len(t, files, 1)
		stop(t, e)
		_, err = os.Stat(path)
		require.NoError(t, err, "the successor's socket lost its file")
		next, err := New(echo, Options{Loops: 1, Logger: quietLog})
		require.NoError(t, err)
		defer stop(t, next)
		_, err = next.ServeFile(files[0])
		require.NoError(t, err)
		c, err := net.DialTimeout("unix", path, 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		require.Equal(t, []byte("still"), roundTrip(t, c, []byte("still")))
	})
	t.Run("abstract", func(t *testing.T) {
		if _, err := os.Stat("/proc/net/unix"); err != nil {
			t.Skip("abstract Unix sockets are Linux's")
		}
		stop(t, listen(t, "@evsel-test-"+filepath.Base(t.TempDir())))
	})
}

// TestUnixCloseListener: CloseListener removes the socket file of the
// address it closes, as StopAccepting does.
func TestUnixCloseListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	e, err := New(echo, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	addr, err := e.Listen("unix", path)
	require.NoError(t, err)
	require.NoError(t, e.CloseListener(addr))
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "the socket file stays behind")
	_, err = net.DialTimeout("unix", path, time.Second)
	require.Error(t, err)
}
