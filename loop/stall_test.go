package loop

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// warnings is a slog.Handler that keeps the Warn records' messages and
// attributes, as text.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	w.mu.Lock()
	w.lines = append(w.lines, b.String())
	w.mu.Unlock()
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// blockingCallback is the stalling handler's OnData, named so that the
// stack in the warning can be looked for.
func blockingCallback(c *Conn) {
	if string(c.Inbound()) == "block" {
		time.Sleep(700 * time.Millisecond)
	}
	echo.OnData(c)
}

// TestStallWarning: a callback that blocks its loop is reported while it
// blocks, with its stack, counted, and reported again when the loop
// serves again; the other loop serves meanwhile.
func TestStallWarning(t *testing.T) {
	w := &warnings{}
	var blockedLoop atomic.Int32
	e, addr := start(t, Funcs{Data: func(c *Conn) {
		if string(c.Inbound()) == "block" {
			blockedLoop.Store(int32(c.Loop().ID()))
		}
		blockingCallback(c)
	}}, Options{Loops: 2, StallWarning: 150 * time.Millisecond, Logger: slog.New(w)})
	blocked := dial(t, addr)
	other := dial(t, addr) // on the other loop (round-robin)
	require.Equal(t, []byte("x"), roundTrip(t, blocked, []byte("x")))
	require.Equal(t, []byte("y"), roundTrip(t, other, []byte("y")))

	go blocked.Write([]byte("block"))
	waitFor(t, "the stall warning", func() bool { return len(w.all()) > 0 })
	require.Equal(t, []byte("served"), roundTrip(t, other, []byte("served")), "the other loop stalled too")
	warning := w.all()[0]
	assert.Contains(t, warning, "loop: stalled")
	assert.Contains(t, warning, fmt.Sprintf("loop=%d ", blockedLoop.Load()))
	assert.Contains(t, warning, "blockingCallback", "the stack shows where it is stuck")
	assert.Contains(t, warning, "time.Sleep")

	require.NoError(t, blocked.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, 5)
	_, err := blocked.Read(got)
	require.NoError(t, err)
	waitFor(t, "the serving-again line", func() bool { return len(w.all()) >= 2 })
	assert.Contains(t, w.all()[1], "serving again")
	assert.Equal(t, int64(1), e.Stats().Stalls)
}

// TestStallWarningQuiet: loops that wait in their poll, idle or between
// short callbacks, are not stalled, however long they wait; a negative
// StallWarning turns the watchdog off.
func TestStallWarningQuiet(t *testing.T) {
	w := &warnings{}
	e, addr := start(t, Funcs{Data: blockingCallback}, Options{Loops: 2, StallWarning: 50 * time.Millisecond, Logger: slog.New(w)})
	c := dial(t, addr)
	for range 10 {
		require.Equal(t, []byte("ab"), roundTrip(t, c, []byte("ab")))
		time.Sleep(30 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // idle
	assert.Empty(t, w.all())
	assert.Zero(t, e.Stats().Stalls)

	off := &warnings{}
	e, addr = start(t, Funcs{Data: blockingCallback}, Options{StallWarning: -1, Logger: slog.New(off)})
	c = dial(t, addr)
	go c.Write([]byte("block"))
	time.Sleep(900 * time.Millisecond)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := c.Read(make([]byte, 5))
	require.NoError(t, err)
	assert.Empty(t, off.all())
	assert.Zero(t, e.Stats().Stalls)
}
