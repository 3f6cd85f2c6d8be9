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
// dropped and counted, and a Warn record of the QueuedHandler's own, with
// the count ("dropped") and none of the attributes or groups of the
// loggers they came through, takes their place in the order: it comes
// after the records queued before them and before the next one queued,
// or the next Flush. The goroutine runs only while records wait.
//
// A record's values are formatted by the handler below, on that goroutine,
// after Handle has returned: LogValuers are resolved in Handle (on the
// caller's goroutine, with the state they describe), but a value that
// refers to memory its caller goes on changing (a []byte of a connection's
// input, a pointer) must be copied by the caller first. A panic in the
// handler below loses the record it was handling, not the process.
//
// Do not make its handler slog.Default's own and then pass it to
// slog.SetDefault: slog's default handler writes through the log package,
// which slog.SetDefault then sends back to the new default's handler, and
// each record would come back for ever. Give it a handler with its own
// writer, slog.NewTextHandler(os.Stderr, nil) say, instead.
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
	return &QueuedHandler{q: &logQueue{base: h}, h: h}
}

// QueuedLogRecords bounds the records a QueuedHandler holds, besides the
// one being handled and one with the count of those dropped (handlers
// derived by WithAttrs and WithGroup share the bound).
const QueuedLogRecords = 256

// queuedRecord is a record to handle with h, or, with h nil, the count of
// the records dropped in its place.
type queuedRecord struct {
	h       slog.Handler
	ctx     context.Context
	r       slog.Record
	dropped int
}

type logQueue struct {
	// base is the handler the QueuedHandler was made with, that of the
	// count: not one derived from it with some logger's attributes.
	base     slog.Handler
	mu       sync.Mutex
	records  []queuedRecord
	running  bool // a goroutine is handling the records
	dropped  int  // since the last count was queued
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
	if ctx == nil {
		ctx = context.Background()
	}
	// Resolved here, where the state a LogValuer describes is the caller's
	// and as it was when logged; outside the lock, as LogValue may take
	// its time (or log).
	r = resolved(r)
	lq := q.q
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if len(lq.records) >= QueuedLogRecords {
		lq.dropped++
		return nil
	}
	// The records dropped before this one are counted before it.
	lq.queueCount()
	// The context goes with the record, without its cancellation: a
	// handler may read its values, and the caller's may be over by then.
	lq.push(queuedRecord{h: q.h, ctx: context.WithoutCancel(ctx), r: r})
	return nil
}

// resolved is r, its own to keep, with its LogValuers (in groups too)
// resolved: a copy, as Clone would make, built from the resolved attrs.
func resolved(r slog.Record) slog.Record {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(resolveAttr(a))
		return true
	})
	return out
}

func needsResolve(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindLogValuer:
		return true
	case slog.KindGroup:
		for _, a := range v.Group() {
			if needsResolve(a.Value) {
				return true
			}
		}
	}
	return false
}

func resolveAttr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup && needsResolve(a.Value) {
		g := a.Value.Group()
		attrs := make([]slog.Attr, len(g))
		for i, ga := range g {
			attrs[i] = resolveAttr(ga)
		}
		a.Value = slog.GroupValue(attrs...)
	}
	return a
}

// queueCount queues the count of the records dropped since the last one
// queued, if any, where the next record would go: into a count that is
// already last, so that counts never fill the queue. Called with mu held.
func (lq *logQueue) queueCount() {
	if lq.dropped == 0 {
		return
	}
	if n := len(lq.records); n > 0 && lq.records[n-1].h == nil {
		lq.records[n-1].dropped += lq.dropped
	} else {
		lq.push(queuedRecord{dropped: lq.dropped})
	}
	lq.dropped = 0
}

// push queues qr and starts the goroutine if it is not running. Called
// with mu held.
func (lq *logQueue) push(qr queuedRecord) {
	lq.records = append(lq.records, qr)
	lq.accepted++
	if !lq.running {
		lq.running = true
		go lq.run()
	}
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
// handled, and the count of those dropped before it logged, or ctx ends
// (its error is then returned): before a program exits, say. Records
// logged meanwhile do not make it wait longer.
func (q *QueuedHandler) Flush(ctx context.Context) error {
	lq := q.q
	lq.mu.Lock()
	lq.queueCount()
	target := lq.accepted
	for lq.handled < target {
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

// run handles the queued records, oldest first, until none is left and
// none was dropped since the last count.
func (lq *logQueue) run() {
	for {
		lq.mu.Lock()
		if len(lq.records) == 0 {
			// Dropped while the last records were handled: count them now
			// rather than when the next record comes.
			lq.queueCount()
		}
		if len(lq.records) == 0 {
			lq.running = false
			lq.records = nil // let a burst's array go
			lq.mu.Unlock()
			return
		}
		next := lq.records[0]
		lq.records[0] = queuedRecord{}
		lq.records = lq.records[1:]
		lq.mu.Unlock()
		lq.handle(next)
		lq.mu.Lock()
		lq.handled++
		if lq.advance != nil {
			close(lq.advance)
			lq.advance = nil
		}
		lq.mu.Unlock()
	}
}

// handle passes qr to its handler, or logs its count with base. A panic
// there loses the record: on this goroutine nobody could recover it, and
// a bug in a log handler must not end the process the engine serves.
func (lq *logQueue) handle(qr queuedRecord) {
	defer func() { _ = recover() }()
	if qr.h == nil {
		r := slog.NewRecord(time.Now(), slog.LevelWarn, "loop: log records dropped: the log's writer did not keep up", 0)
		r.AddAttrs(slog.Int("dropped", qr.dropped))
		_ = lq.base.Handle(context.Background(), r)
		return
	}
	_ = qr.h.Handle(qr.ctx, qr.r)
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
