package msgloop_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message/msgloop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowHandler records the messages it handles, each after a pause: a log
// writer that takes its time.
type slowHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *slowHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *slowHandler) Handle(_ context.Context, r slog.Record) error {
	time.Sleep(200 * time.Millisecond)
	h.mu.Lock()
	h.msgs = append(h.msgs, r.Message)
	h.mu.Unlock()
	return nil
}
func (h *slowHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *slowHandler) WithGroup(string) slog.Handler      { return h }

// TestServerStopFlushesDefaultLogger: with Loop.Logger given and Logger
// not, the server's own default logger (a QueuedHandler over slog's
// default) has its records handled when Stop returns. The engine flushes
// only its own Logger, so the server's lines, queued, could be lost to a
// program that exits after Stop, as they were not when it logged to
// slog.Default directly.
func TestServerStopFlushesDefaultLogger(t *testing.T) {
	h := &slowHandler{}
	old, w, f := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() {
		slog.SetDefault(old)
		log.SetOutput(w)
		log.SetFlags(f)
	})
	s, err := msgloop.NewServer(refapp.ServerResponse, msgloop.ServerOptions{
		Loop: loop.Options{Loops: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
	})
	require.NoError(t, err)
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	// Half a frame, then the close: the server logs a Warn line.
	_, err = c.Write(rawFrame(`{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 100}`, `{"action"`))
	require.NoError(t, err)
	c.Close()
	waitEngine := func() bool { return s.Engine().Stats().Open == 0 && s.Engine().Stats().Accepted == 1 }
	require.Eventually(t, waitEngine, 10*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Contains(t, h.msgs, "message: closing connection", "the server's line still queued when Stop returned")
}
