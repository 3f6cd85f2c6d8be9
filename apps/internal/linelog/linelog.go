// Package linelog is the programs' non-blocking output: lines are queued
// and written by one goroutine, so a loop callback that prints never waits
// for the reader of stdout. With a reader that keeps up the output is byte
// for byte and in order what direct writes would have produced; with one
// that does not (a pipe nobody drains, a stalled terminal) the queue fills
// and further lines are dropped and counted instead of stopping the loops.
//
// It lives with the programs rather than in the engine because printing a
// line per event is theirs: the engine's own rare fault reports go to the
// slog.Logger the application gives it, which can be built on a Writer.
package linelog

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Default bounds of the queue.
const (
	DefaultMaxLines = 16 << 10
	DefaultMaxBytes = 1 << 20
)

// Writer queues whole lines for one goroutine to write to an io.Writer.
// Its methods are safe from any goroutine and never block on the
// destination: each holds a mutex only to copy its bytes.
type Writer struct {
	dst      io.Writer
	maxLines int
	maxBytes int

	mu      sync.Mutex
	pending []byte // queued, not yet taken by the writer goroutine
	lines   int    // entries in pending
	spare   []byte // the last batch's buffer, reused
	queued  int64  // entries accepted so far
	written int64  // entries whose write has returned
	dropped int64
	closed  bool
	// advance is closed when written grows, for Flush to wait on. Made
	// only when a Flush waits: a channel per batch was a garbage
	// allocation per printed line when the reader keeps up (~35 bytes a
	// connection for multiconn-server's burst of Accepted lines, which a
	// server whose connections then sit idle carries as RSS).
	advance chan struct{}
	wake    chan struct{} // has a token while pending is not empty
	quit    chan struct{} // closed by Close: the goroutine exits once idle
}

// New starts a Writer to dst holding at most maxLines entries and maxBytes
// bytes in its queue (DefaultMaxLines and DefaultMaxBytes for 0 or less).
//
// For os.Stdout or os.Stderr it also ignores SIGPIPE, for the process. The
// Go runtime otherwise ends a program whose write to descriptor 1 or 2
// fails with EPIPE: a log collector that goes away, or a "| head", would
// stop a server for good, and a -quiet server's warning about one
// malformed frame would do it. Ignored, the write fails and its lines
// count as dropped, as Python's print does (it ignores SIGPIPE and raises
// BrokenPipeError). Sockets are not concerned: the engine's writes pass
// MSG_NOSIGNAL.
func New(dst io.Writer, maxLines, maxBytes int) *Writer {
	if dst == os.Stdout || dst == os.Stderr {
		signal.Ignore(syscall.SIGPIPE)
	}
	if maxLines <= 0 {
		maxLines = DefaultMaxLines
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	w := &Writer{
		dst: dst, maxLines: maxLines, maxBytes: maxBytes,
		wake: make(chan struct{}, 1), quit: make(chan struct{}),
	}
	go w.run()
	return w
}

// Write queues p as one entry, written whole by a single Write to the
// destination, and reports success even when p is dropped (it never fails,
// so that log.Logger and slog handlers built on it never see an error).
func (w *Writer) Write(p []byte) (int, error) {
	w.enqueue(p, "", false)
	return len(p), nil
}

// Line queues s followed by a newline.
func (w *Writer) Line(s string) { w.enqueue(nil, s, true) }

// Println queues its operands formatted as fmt.Println does.
func (w *Writer) Println(a ...any) { w.enqueue(fmt.Appendln(nil, a...), "", false) }

// Printf queues its operands formatted as fmt.Printf does.
func (w *Writer) Printf(format string, a ...any) {
	w.enqueue(fmt.Appendf(nil, format, a...), "", false)
}

// enqueue appends p, then s and a newline if nl, as one entry, or drops it
// when the queue has no room.
func (w *Writer) enqueue(p []byte, s string, nl bool) {
	n := len(p) + len(s)
	if nl {
		n++
	}
	w.mu.Lock()
	if w.closed || w.lines >= w.maxLines || len(w.pending)+n > w.maxBytes {
		w.dropped++
		w.mu.Unlock()
		return
	}
	w.pending = append(w.pending, p...)
	w.pending = append(w.pending, s...)
	if nl {
		w.pending = append(w.pending, '\n')
	}
	w.lines++
	w.queued++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // a token is there already
	}
}

// run writes what is queued, one batch per Write, until Close.
func (w *Writer) run() {
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			// Close has flushed (or given up); anything queued since is
			// its business.
			return
		}
		for {
			w.mu.Lock()
			batch, n := w.pending, w.lines
			w.pending, w.spare, w.lines = w.spare[:0], nil, 0
			w.mu.Unlock()
			if n == 0 {
				w.mu.Lock()
				w.spare = batch[:0]
				w.mu.Unlock()
				break
			}
			_, err := w.dst.Write(batch)
			w.mu.Lock()
			if err != nil {
				w.dropped += int64(n)
			}
			w.written += int64(n)
			if w.advance != nil {
				close(w.advance)
				w.advance = nil
			}
			if cap(batch) <= w.maxBytes {
				w.spare = batch[:0]
			}
			w.mu.Unlock()
		}
	}
}

// Flush waits until everything queued before the call has been written, or
// for at most timeout, and reports whether it all was.
func (w *Writer) Flush(timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	w.mu.Lock()
	target := w.queued
	for w.written < target {
		if w.advance == nil {
			w.advance = make(chan struct{})
		}
		ch := w.advance
		w.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return true
}

// Dropped returns how many entries were dropped so far: refused because
// the queue was full or the Writer closed, or lost to a failed write.
func (w *Writer) Dropped() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Close refuses further entries, waits up to timeout for the queue to be
// written, stops the writer goroutine and returns the entries lost: those
// dropped, and those still unwritten when timeout passed (a destination
// that blocks keeps the goroutine in its Write; Close does not wait for
// it). Close more than once returns the same count.
func (w *Writer) Close(timeout time.Duration) (lost int64) {
	w.mu.Lock()
	first := !w.closed
	w.closed = true
	w.mu.Unlock()
	w.Flush(timeout)
	w.mu.Lock()
	defer w.mu.Unlock()
	if first {
		close(w.quit)
		// What is still queued or being written now is lost as far as
		// the caller knows; drop the queue so it is not written later.
		w.dropped += w.queued - w.written
		w.pending, w.lines = nil, 0
	}
	return w.dropped
}

// FlushTimeout is how long Finish gives each Writer to drain at exit.
const FlushTimeout = 2 * time.Second

// Finish is a program's last word on its output: it closes out (stdout's
// Writer), reports on errs (stderr's) "N log lines dropped" if out lost
// any, then closes errs; each gets FlushTimeout. Lines errs itself loses
// cannot be reported anywhere. Either may be nil.
func Finish(out, errs *Writer) {
	if out != nil {
		if lost := out.Close(FlushTimeout); lost > 0 && errs != nil {
			errs.Printf("%d log lines dropped\n", lost)
		}
	}
	if errs != nil {
		errs.Close(FlushTimeout)
	}
}

// Fail is a program's exit on a fatal error: "prog: err" on errs, then
// Finish, then exit status 1. The servers share it so that every fatal
// error still reports the lines a full stdout dropped.
func Fail(prog string, out, errs *Writer, err error) {
	errs.Println(prog+":", err)
	Finish(out, errs)
	os.Exit(1)
}
