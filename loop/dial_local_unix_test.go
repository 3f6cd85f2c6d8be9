//go:build unix

package loop

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWithLocalAddrUnix: a Unix client bound to a path of its own is
// seen by the server at that path.
func TestWithLocalAddrUnix(t *testing.T) {
	dir := t.TempDir()
	server := filepath.Join(dir, "server")
	peers := make(chan string, 1)
	e, err := New(Funcs{Open: func(c *Conn) { peers <- c.RemoteAddr().String() }}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	_, err = e.Listen("unix", server)
	require.NoError(t, err)

	client := filepath.Join(dir, "client")
	_, err = newClientEngine(t).Dial(context.Background(), "unix", server, WithLocalAddr(&net.UnixAddr{Name: client, Net: "unix"}))
	require.NoError(t, err)
	require.Equal(t, client, <-peers)
}
