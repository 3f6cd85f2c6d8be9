package loop

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSetLingerPeerSending: SetLinger(0) resets the connection on close
// even when the peer is still sending, which a graceful close would
// otherwise answer by lingering (a FIN, then up to two seconds of reading
// and dropping): the peer reads the answer and then a reset, not an end
// of stream.
func TestSetLingerPeerSending(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Wine 8 reads a reset as the end of file (see skipResetReadAsEOF)")
	}
	conns := make(chan *Conn, 1)
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		c.Consume(len(c.Inbound()))
		assert.NoError(t, c.SetLinger(0))
		c.Write([]byte("bye"))
		c.PauseReading() // what the peer sends next stays unread in the kernel
		conns <- c
	}}, Options{})
	c := dial(t, addr)
	_, err := c.Write([]byte("upload"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, 3)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, "bye", string(got))
	_, err = c.Write([]byte("more of the upload"))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // it reaches the server's kernel
	require.NoError(t, (<-conns).AsyncClose(nil))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	require.NotErrorIs(t, err, io.EOF, "a FIN, not a reset")
}
