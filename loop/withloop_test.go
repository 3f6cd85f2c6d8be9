package loop

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWithLoop: a proxy's upstream dialed from a client's OnOpen with
// WithLoop(client.Loop()) lives on the client's loop, so each side's
// callbacks write to the other directly; Adopt takes the option too, and
// a loop of another engine is refused.
func TestWithLoop(t *testing.T) {
	_, upAddr := start(t, echo, Options{Loops: 1})

	type pair struct{ peer *Conn }
	sameLoop := make(chan bool, 1)
	e, addr := start(t, Funcs{
		Open: func(c *Conn) {
			if c.Data() == "adopted" {
				return
			}
			if p, ok := c.Data().(*pair); ok { // the upstream side
				sameLoop <- c.Loop() == p.peer.Loop() && c.Loop().OnLoopGoroutine()
				return
			}
			p := &pair{peer: c}
			up, err := c.Loop().Engine().Dial(context.Background(), "tcp", upAddr, WithLoop(c.Loop()), WithData(&pair{peer: c}))
			if err != nil {
				c.CloseWithError(err)
				return
			}
			p.peer = up
			c.SetData(p)
		},
		Data: func(c *Conn) {
			// Both ends are this loop's: a plain Write to the other one.
			p := c.Data().(*pair)
			p.peer.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
	}, Options{Loops: 4})

	for i := range 8 { // more clients than loops: Balance alone would split pairs
		nc := dial(t, addr)
		require.True(t, <-sameLoop, "client %d: upstream on another loop", i)
		msg := []byte("through the proxy")
		_, err := nc.Write(msg)
		require.NoError(t, err)
		got := make([]byte, len(msg))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(nc, got)
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	}

	// Another engine's loop is refused, before any I/O.
	other, _ := start(t, echo, Options{Loops: 1})
	_, err := e.Dial(context.Background(), "tcp", upAddr, WithLoop(other.Loops()[0]))
	assert.ErrorContains(t, err, "another engine")

	if runtime.GOOS == "windows" {
		return // no Adopt there (adopt.go)
	}
	// Adopt onto a chosen loop, and not onto another engine's.
	target := e.Loops()[3]
	nc, err := net.Dial("tcp", upAddr)
	require.NoError(t, err)
	ac, err := e.Adopt(nc, WithLoop(target), WithData("adopted"))
	require.NoError(t, err)
	assert.Same(t, target, ac.Loop())
	ac.AsyncClose(nil)

	nc2, err := net.Dial("tcp", upAddr)
	require.NoError(t, err)
	defer nc2.Close()
	_, err = e.Adopt(nc2, WithLoop(other.Loops()[0]))
	assert.ErrorContains(t, err, "another engine")
}
