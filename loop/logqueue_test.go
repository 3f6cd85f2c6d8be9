package loop

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedHandler records what it handles, each Handle waiting until the gate
// opens, as a handler writing to a pipe no one reads would. Handlers
// derived by WithAttrs record into the same sink.
type gatedHandler struct {
	*gatedSink
	attrs []slog.Attr
}

type gatedSink struct {
	gate chan struct{}
	mu   sync.Mutex
	recs []slog.Record
}

func newGatedHandler() *gatedHandler {
	return &gatedHandler{gatedSink: &gatedSink{gate: make(chan struct{})}}
}

func (g *gatedHandler) Enabled(context.Context, slog.Level) bool { return true }
func (g *gatedHandler) Handle(_ context.Context, r slog.Record) error {
	<-g.gate
	r = r.Clone()
	r.AddAttrs(g.attrs...)
	g.mu.Lock()
	g.recs = append(g.recs, r)
	g.mu.Unlock()
	return nil
}
func (g *gatedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &gatedHandler{gatedSink: g.gatedSink, attrs: append(g.attrs[:len(g.attrs):len(g.attrs)], attrs...)}
}
func (g *gatedHandler) WithGroup(string) slog.Handler { return g }

func (g *gatedSink) records() []slog.Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]slog.Record(nil), g.recs...)
}

func intAttr(r slog.Record, key string) (int64, bool) {
	var v int64
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v, found = a.Value.Int64(), true
			return false
		}
		return true
	})
	return v, found
}

// TestQueuedHandler: records logged while the handler below is stuck are
// queued up to QueuedLogRecords, the rest dropped and counted; none of the
// calls waits; once the handler moves, the queued ones reach it in order,
// then one record with the count.
func TestQueuedHandler(t *testing.T) {
	g := newGatedHandler()
	q := NewQueuedHandler(g)
	log := slog.New(q)
	const n = QueuedLogRecords + 50
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		for i := range n {
			log.Info("record", "i", i)
		}
	}()
	select {
	case <-logged:
	case <-time.After(10 * time.Second):
		t.Fatal("logging waited for the stuck handler")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, q.Flush(ctx), context.DeadlineExceeded, "flushed with the handler stuck")
	close(g.gate)
	require.NoError(t, q.Flush(context.Background()))
	recs := g.records()
	require.Equal(t, slog.LevelWarn, recs[len(recs)-1].Level, "the count is not the last record")
	handled := recs[:len(recs)-1]
	// One record may have left the queue for the stuck handler before the
	// queue filled.
	require.Contains(t, []int{QueuedLogRecords, QueuedLogRecords + 1}, len(handled))
	for i, r := range handled {
		v, _ := intAttr(r, "i")
		require.Equal(t, int64(i), v, "out of order")
	}
	dropped, ok := intAttr(recs[len(recs)-1], "dropped")
	require.True(t, ok)
	assert.Equal(t, int64(n-len(handled)), dropped)

	// Derived loggers share the queue, in order, and the goroutine ends
	// when it is empty (goleak checks the package).
	log.With("via", "with").Info("derived")
	log.Info("plain")
	require.NoError(t, q.Flush(context.Background()))
	recs = g.records()
	require.Len(t, recs, len(handled)+3)
	assert.Equal(t, "derived", recs[len(recs)-2].Message)
	assert.Equal(t, "plain", recs[len(recs)-1].Message)
	var via string
	recs[len(recs)-2].Attrs(func(a slog.Attr) bool { via = a.Value.String(); return a.Key != "via" })
	assert.Equal(t, "with", via)
}

// TestDefaultLoggerDoesNotStall: with no Logger in Options, an engine whose
// process log is stuck (slog's default handler waiting on its writer) goes
// on serving while its connections' handlers panic, each panic a log
// record; the records past the queue's bound are counted once the log
// moves again.
func TestDefaultLoggerDoesNotStall(t *testing.T) {
	g := newGatedHandler()
	restoreDefaultLog(t, slog.New(g))
	opened := false
	t.Cleanup(func() {
		if !opened {
			close(g.gate)
		}
	})
	panicky := Funcs{Data: func(c *Conn) {
		if string(c.Inbound()) == "boom" {
			panic("boom")
		}
		echo.OnData(c)
	}}
	e, err := New(panicky, Options{Loops: 1})
	require.NoError(t, err)
	t.Cleanup(func() {
		if !opened {
			stop(t, e)
		}
	})
	a, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := a.String()
	good := dial(t, addr)

	const panics = QueuedLogRecords + 20
	for i := range panics {
		c := dial(t, addr)
		_, err := c.Write([]byte("boom"))
		require.NoError(t, err)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1)) // the panic closes it
		require.Error(t, err)
		c.Close()
		if i%64 == 0 {
			msg := []byte("still here " + strconv.Itoa(i))
			assert.Equal(t, string(msg), string(roundTrip(t, good, msg)), "the loop stalled on its log")
		}
	}
	close(g.gate)
	opened = true
	stop(t, e) // flushes the queue before it returns
	recs := g.records()
	require.Equal(t, slog.LevelWarn, recs[len(recs)-1].Level, "the count is not the last record")
	dropped, _ := intAttr(recs[len(recs)-1], "dropped")
	assert.Equal(t, int64(panics), int64(len(recs)-1)+dropped, "every panic logged or counted")
}
