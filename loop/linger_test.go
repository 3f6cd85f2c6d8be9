package loop

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSetLinger: with SetLinger(0) a close resets the connection after
// the output went out, so the peer reads the answer and then a reset,
// not an end of stream; SetLinger(-1) restores the FIN; a positive time,
// which would block the loop in close(2), is refused.
func TestSetLinger(t *testing.T) {
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		in := string(c.Inbound())
		c.Consume(len(in))
		assert.ErrorIs(t, c.SetLinger(5), errLingerBlocks)
		if in == "reset" {
			assert.NoError(t, c.SetLinger(0))
		} else {
			assert.NoError(t, c.SetLinger(0))
			assert.NoError(t, c.SetLinger(-1))
		}
		c.Write([]byte("bye"))
		c.Close()
	}}, Options{})
	read := func(msg string) ([]byte, error) {
		c := dial(t, addr)
		_, err := c.Write([]byte(msg))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		got := make([]byte, 3)
		_, err = io.ReadFull(c, got)
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond) // the close arrives
		_, err = c.Read(make([]byte, 1))
		return got, err
	}
	got, err := read("reset")
	require.Equal(t, "bye", string(got))
	require.Error(t, err)
	if runtime.GOOS != "windows" { // Wine 8 reads a reset as the end of file (see skipResetReadAsEOF)
		require.NotErrorIs(t, err, io.EOF, "a FIN, not a reset")
	}
	got, err = read("fin")
	require.Equal(t, "bye", string(got))
	require.ErrorIs(t, err, io.EOF)
}
