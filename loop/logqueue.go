package loop

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// QueuedHandler is a slog.Handler that hands records to another on a
// goroutine of its own, so that a loop that logs never waits for that
// handler's writer: slog's default handler writes to standard error while
// holding a lock, and a standard error nobody reads (a full pipe, a stalled
// log collector, a terminal on hold) would otherwise stop every connection
// of the loop that logged, for as long as it lasts. Records are handled in
// the order they came; past QueuedLogRecords waiting, the newest are
// dropped and counted, and a Warn record with the count follows the last
// queued one. The goroutine runs only while records wait.
//
// The engine's default Logger (and message/msgloop's) is built on one over
// slog.Default's handler; a Logger given in Options is used as it is. An
// engine whose Logger is a QueuedHandler's flushes it (for at most a
// second) before Done is closed.
type QueuedHandler struct {
	q *logQueue
	h slog.Handler
}

// NewQueuedHandler returns a QueuedHandler for h.
func NewQueuedHandler(h slog.Handler) *QueuedHandler {
	return &QueuedHandler{q: &logQueue{}, h: h}
}

// QueuedLogRecords bounds the records a QueuedHandler holds, besides the
// one being handled (handlers derived by WithAttrs and WithGroup share the
// bound).
const QueuedLogRecords = 256

type queuedRecord struct {
	h   slog.Handler
	ctx context.Context
	r   slog.Record
}

type logQueue struct {
	mu       sync.Mutex
	records  []queuedRecord
	running  bool // a goroutine is handling the records
	dropped  int  // since the last count was logged
	counting bool // the count is being logged
	accepted int64
	handled  int64
	// advance is closed when handled grows, for Flush; made only when a
	// Flush waits.
	advance chan struct{}
}

// Enabled asks the handler below: a level test, which does not write.
func (q *QueuedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return q.h.Enabled(ctx, level)
}

// Handle queues r and returns; its error is always nil (the handler
// below's errors are its own to report, as slog.Logger ignores them).
func (q *QueuedHandler) Handle(ctx context.Context, r slog.Record) error {
	lq := q.q
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if len(lq.records) >= QueuedLogRecords {
		lq.dropped++
		return nil
	}
	// The context goes with the record, without its cancellation: a
	// handler may read its values, and the caller's may be over by then.
	lq.records = append(lq.records, queuedRecord{h: q.h, ctx: context.WithoutCancel(ctx), r: r.Clone()})
	lq.accepted++
	if !lq.running {
		lq.running = true
		go lq.run()
	}
	return nil
}

// WithAttrs implements slog.Handler; the result shares q's queue.
func (q *QueuedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &QueuedHandler{q: q.q, h: q.h.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler; the result shares q's queue.
func (q *QueuedHandler) WithGroup(name string) slog.Handler {
	return &QueuedHandler{q: q.q, h: q.h.WithGroup(name)}
}

// Flush waits until the records queued before it was called have been
// handled, and the count of those dropped logged, or ctx ends (its error is
// then returned): before a program exits, say.
func (q *QueuedHandler) Flush(ctx context.Context) error {
	lq := q.q
	lq.mu.Lock()
	target := lq.accepted
	for lq.handled < target || lq.dropped > 0 || lq.counting {
		if lq.advance == nil {
			lq.advance = make(chan struct{})
		}
		advance := lq.advance
		lq.mu.Unlock()
		select {
		case <-advance:
		case <-ctx.Done():
			return ctx.Err()
		}
		lq.mu.Lock()
	}
	lq.mu.Unlock()
	return nil
}

// run handles the queued records, oldest first, until none is left, and
// then says how many were dropped, if any.
func (lq *logQueue) run() {
	var last slog.Handler
	for {
		lq.mu.Lock()
		if len(lq.records) == 0 {
			dropped := lq.dropped
			lq.dropped = 0
			if dropped == 0 {
				lq.running = false
				lq.records = nil // let a burst's array go
				lq.mu.Unlock()
				return
			}
			lq.counting = true
			lq.mu.Unlock()
			// Records are dropped only while the queue is full, so last
			// is the handler of one handled since.
			r := slog.NewRecord(time.Now(), slog.LevelWarn, "loop: log records dropped: the log's writer did not keep up", 0)
			r.AddAttrs(slog.Int("dropped", dropped))
			_ = last.Handle(context.Background(), r)
			lq.mu.Lock()
			lq.counting = false
		} else {
			next := lq.records[0]
			lq.records[0] = queuedRecord{}
			lq.records = lq.records[1:]
			lq.mu.Unlock()
			last = next.h
			_ = next.h.Handle(next.ctx, next.r)
			lq.mu.Lock()
			lq.handled++
		}
		if lq.advance != nil {
			close(lq.advance)
			lq.advance = nil
		}
		lq.mu.Unlock()
	}
}

// logFlushWait bounds how long Engine.Stop waits for the default Logger's
// queue: a standard error that nobody reads must not hold Stop up.
const logFlushWait = time.Second

// flushLog waits, at most logFlushWait, for the records queued by the
// engine's Logger if it is a QueuedHandler's, as the default is.
func (e *Engine) flushLog() {
	q, ok := e.log.Handler().(*QueuedHandler)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), logFlushWait)
	defer cancel()
	_ = q.Flush(ctx)
}
