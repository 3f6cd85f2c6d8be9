package loop

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedWriter is a writer that blocks every Write until its gate opens, as
// a pipe no one reads does, and says when a Write is waiting.
type gatedWriter struct {
	gate    chan struct{}
	waiting chan struct{} // one token per Write that found the gate shut
	mu      sync.Mutex
	buf     bytes.Buffer
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{gate: make(chan struct{}), waiting: make(chan struct{}, 1024)}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	select {
	case <-w.gate:
	default:
		select {
		case w.waiting <- struct{}{}:
		default:
		}
		<-w.gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) lines(t *testing.T) []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(w.buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

// TestQueuedHandlerCountOwnAttrs: the count of the records dropped is the
// QueuedHandler's own record, not one of the logger the last handled
// record came through: it was logged by that record's handler, so inside
// its group and with its attributes ("req":{"id":7,"dropped":N}), as if
// request 7 had dropped them.
func TestQueuedHandlerCountOwnAttrs(t *testing.T) {
	w := newGatedWriter()
	q := NewQueuedHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	req := slog.New(q).WithGroup("req").With("id", 7)
	for range QueuedLogRecords + 10 {
		req.Info("request")
	}
	close(w.gate)
	require.NoError(t, q.Flush(context.Background()))
	lines := w.lines(t)
	last := lines[len(lines)-1]
	assert.Equal(t, "WARN", last["level"])
	assert.NotContains(t, last, "req", "the count logged in a request's group, with its attributes")
	assert.Contains(t, last, "dropped")
}

// TestQueuedHandlerFlushUnderLoad: Flush returns once the records queued
// before it (and the count of those dropped before it) are handled, even
// while others keep coming faster than the handler below takes them; and
// the count is logged though the queue never empties. It waited for the
// queue to empty, that is for ever under a sustained overload, and the
// count was never logged.
func TestQueuedHandlerFlushUnderLoad(t *testing.T) {
	var q *QueuedHandler
	var log *slog.Logger
	var producing atomic.Bool
	producing.Store(true)
	var logged atomic.Int64
	var mu sync.Mutex
	var real, counted int64
	inner := handlerFunc(func(_ context.Context, r slog.Record) error {
		mu.Lock()
		if r.Message == "work" {
			real++
		} else {
			n, _ := intAttr(r, "dropped")
			counted += n
		}
		mu.Unlock()
		// Each record handled brings two more: a writer that never
		// keeps up.
		if producing.Load() {
			for range 2 {
				logged.Add(1)
				log.Info("work")
			}
		}
		return nil
	})
	q = NewQueuedHandler(inner)
	log = slog.New(q)
	logged.Add(1)
	log.Info("work")
	// Past this, records have been dropped.
	waitFor(t, "the overload", func() bool { return logged.Load() > 4*QueuedLogRecords })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, q.Flush(ctx), "Flush waited for a queue that never empties")
	mu.Lock()
	c := counted
	mu.Unlock()
	assert.Positive(t, c, "no count logged under the overload")

	producing.Store(false)
	// Twice: a record being handled as production stopped may log its two
	// after the first Flush took its mark (Flush waits only for what came
	// before it), and be handled, or counted as dropped, after it returns;
	// nothing is logged once that Flush is over.
	require.NoError(t, q.Flush(context.Background()))
	require.NoError(t, q.Flush(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, logged.Load(), real+counted, "records neither handled nor counted")
}

type handlerFunc func(context.Context, slog.Record) error

func (f handlerFunc) Enabled(context.Context, slog.Level) bool        { return true }
func (f handlerFunc) Handle(ctx context.Context, r slog.Record) error { return f(ctx, r) }
func (f handlerFunc) WithAttrs([]slog.Attr) slog.Handler              { return f }
func (f handlerFunc) WithGroup(string) slog.Handler                   { return f }

type counterValuer struct{ v *atomic.Int64 }

func (c counterValuer) LogValue() slog.Value { return slog.Int64Value(c.v.Load()) }

// TestQueuedHandlerResolvesOnCaller: a LogValuer's value is the one it had
// when the record was logged. Resolved on the QueuedHandler's goroutine,
// later, it read the state of then (and, without the atomic here, raced
// with the caller that kept changing it).
func TestQueuedHandlerResolvesOnCaller(t *testing.T) {
	w := newGatedWriter()
	q := NewQueuedHandler(slog.NewJSONHandler(w, nil))
	log := slog.New(q)
	log.Info("blocker")
	select {
	case <-w.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never wrote")
	}
	var v atomic.Int64
	v.Store(1)
	log.Info("state", "v", counterValuer{&v}, slog.Group("g", "v", counterValuer{&v}))
	v.Store(2)
	close(w.gate)
	require.NoError(t, q.Flush(context.Background()))
	lines := w.lines(t)
	require.Len(t, lines, 2)
	assert.Equal(t, float64(1), lines[1]["v"], "the value of when it was handled, not logged")
	assert.Equal(t, map[string]any{"v": float64(1)}, lines[1]["g"])
}

// TestQueuedHandlerHandlerPanic: a handler below that panics loses its
// record, not the process: the panic was on the QueuedHandler's goroutine,
// which nobody could recover, and it took the program down (as a panic in
// a connection's handler does not).
func TestQueuedHandlerHandlerPanic(t *testing.T) {
	var mu sync.Mutex
	var got []string
	q := NewQueuedHandler(handlerFunc(func(_ context.Context, r slog.Record) error {
		if r.Message == "boom" {
			panic("a handler's bug")
		}
		mu.Lock()
		got = append(got, r.Message)
		mu.Unlock()
		return nil
	}))
	log := slog.New(q)
	log.Info("before")
	log.Info("boom")
	log.Info("after")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, q.Flush(ctx))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"before", "after"}, got)
}

// TestQueuedHandlerConcurrentOrder: many goroutines logging at once
// through a slow handler: each one's records arrive in its order, and the
// records handled and the counts add up to those logged.
func TestQueuedHandlerConcurrentOrder(t *testing.T) {
	const writers, each = 16, 500
	var mu sync.Mutex
	last := map[int64]int64{}
	var real, counted int64
	var bad []string
	q := NewQueuedHandler(handlerFunc(func(_ context.Context, r slog.Record) error {
		time.Sleep(10 * time.Microsecond)
		mu.Lock()
		defer mu.Unlock()
		if r.Message != "w" {
			n, _ := intAttr(r, "dropped")
			counted += n
			return nil
		}
		real++
		g, _ := intAttr(r, "g")
		i, _ := intAttr(r, "i")
		if p, ok := last[g]; ok && i <= p {
			bad = append(bad, "out of order")
		}
		last[g] = i
		return nil
	}))
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := slog.New(q)
			for i := range each {
				log.Info("w", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Flush(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, bad)
	assert.Equal(t, int64(writers*each), real+counted)
}

// TestStopWithStuckLog: with the default Logger's writer stuck, Stop
// returns about a second (logFlushWait) after the loops are gone, not
// when the writer moves; and a stop that was over within ctx returns nil,
// though ctx ended while the log was waited for (it returned ctx's error,
// as if connections had been cut).
func TestStopWithStuckLog(t *testing.T) {
	g := newGatedHandler()
	restoreDefaultLog(t, slog.New(g))
	t.Cleanup(func() { close(g.gate) })
	e, err := New(Funcs{Data: func(c *Conn) { panic("boom") }}, Options{Loops: 1})
	require.NoError(t, err)
	a, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := dial(t, a.String())
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1)) // the panic, logged, closes it
	require.Error(t, err)
	// Time enough for the loops, not for the log's second.
	ctx, cancel := context.WithTimeout(context.Background(), logFlushWait/2)
	defer cancel()
	begin := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- e.Stop(ctx) }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
		took := time.Since(begin)
		assert.GreaterOrEqual(t, took, logFlushWait/2, "the log was not waited for")
	case <-time.After(logFlushWait + 5*time.Second):
		t.Fatal("Stop waited for the stuck log")
	}
}

// restoreDefaultLog makes l slog's default for the test. slog.SetDefault
// also sends the log package's output to l's handler, and setting the old
// default back does not undo that when it is slog's own (it writes through
// the log package), so the log package's writer and flags are put back too.
func restoreDefaultLog(t *testing.T, l *slog.Logger) {
	old, w, f := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(l)
	t.Cleanup(func() {
		slog.SetDefault(old)
		log.SetOutput(w)
		log.SetFlags(f)
	})
}
