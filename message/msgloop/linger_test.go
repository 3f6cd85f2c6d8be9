package msgloop_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/internal/sockettest"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFaultCloseLingers (issue item 4): keep-alive clients that pipeline
// without ever reading hit the in-flight limit with answers the kernel
// cannot hold; the server closes them for the fault, and the linger
// deadline makes sure they go, descriptors and pending output, even though
// the peers stay connected.
func TestFaultCloseLingers(t *testing.T) {
	const (
		n      = 100
		linger = 300 * time.Millisecond
	)
	// 8 answers are far more than the socket buffers hold: the server's
	// send buffer and the clients' receive buffers are both set small, so
	// that this holds whatever the system's defaults (tcp_wmem, tcp_rmem).
	big := bytes.Repeat([]byte("x"), 64<<10)
	h := func(message.Message) (message.Message, error) {
		return message.NewBinaryMessage("binary/custom", big), nil
	}
	logs := &logBuffer{}
	s, err := msgloop.NewServer(h, msgloop.ServerOptions{
		ServerConfig: message.ServerConfig{KeepAlive: true, MaxInFlight: 8},
		Loop:         loop.Options{Loops: 2, LingerTimeout: linger},
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		// A small send buffer, so the kernel cannot take every answer.
		Hooks: msgloop.ServerHooks{Open: func(c *loop.Conn) { c.SetWriteBuffer(16 << 10) }},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Stop(ctx))
	})
	a, err := s.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	burst := bytes.Repeat(frameOf(t, refapp.ClientRequest("search", "ring")), 20)
	for i := 0; i < n; i++ {
		c, err := sockettest.SmallBufferDialer().Dial("tcp", a.String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() }) // the peers stay until the test ends
		_, err = c.Write(burst)
		require.NoError(t, err)
	}
	e := s.Engine()
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "too many requests in flight") == n },
		10*time.Second, 5*time.Millisecond, "not every client hit the in-flight limit")
	faulted := time.Now()
	require.Eventually(t, func() bool { return e.Stats().Open == 0 },
		linger*3/2+3*time.Second, 5*time.Millisecond, "fault-closed connections outlived the linger deadline: %+v", e.Stats())
	t.Logf("all closed %v after the last fault", time.Since(faulted))
	assert.EqualValues(t, n, e.Stats().LingerClosed, "each was closed hard at the linger deadline")
	// One fault each: no timer kept serving the closing connections.
	assert.Equal(t, n, strings.Count(logs.String(), "too many requests in flight"))
}
