package loop

import (
	"bytes"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// The stall watchdog. A callback that blocks (a slow system call, a lock
// held elsewhere, a full channel, a write to a log pipe nobody drains)
// stops every connection of its loop, and nothing can preempt it: what
// the engine can do is say so, with where it is stuck, while it is
// stuck, so that the stall is found from the log rather than guessed from
// its victims' latencies. Each loop publishes a beat: its iteration count,
// and whether it is waiting in its poll (where it may stay for as long as
// nothing happens). A goroutine looks at the beats a few times per
// Options.StallWarning; a loop whose beat has not moved, and that is not
// waiting, for that long is logged once, with its goroutine's stack, and
// once more when it moves again.

// beat is the loop's published state: iteration<<1, | 1 while it waits in
// its poll. Two plain stores per iteration, none per event.
type beat struct {
	iter uint64 // the loop's own count; v publishes it
	v    atomic.Uint64
}

func (b *beat) waiting() { b.v.Store(b.iter<<1 | 1) }

func (b *beat) working() {
	b.iter++
	b.v.Store(b.iter << 1)
}

// defaultStallWarning is Options.StallWarning's default.
const defaultStallWarning = time.Second

// watchStalls runs until done is closed, looking at the loops' beats every
// quarter of warn.
func (e *Engine) watchStalls(warn time.Duration, done <-chan struct{}) {
	type seen struct {
		beat     uint64
		since    time.Time // when the watchdog first saw this beat
		reported bool
	}
	last := make([]seen, len(e.loops))
	now := time.Now()
	for i := range last {
		last[i].since = now
	}
	t := time.NewTicker(max(warn/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now = <-t.C:
		}
		for i, l := range e.loops {
			s := &last[i]
			b := l.beat.v.Load()
			if b != s.beat || b&1 != 0 {
				if s.reported {
					e.log.Warn("loop: serving again after a stall", "loop", l.id, "stalled", now.Sub(s.since).Round(time.Millisecond))
				}
				*s = seen{beat: b, since: now}
				continue
			}
			if !s.reported && now.Sub(s.since) >= warn {
				s.reported = true
				l.stats.stalls.Add(1)
				e.log.Warn("loop: stalled: a callback has kept the loop from its poll, and every connection of the loop waits",
					"loop", l.id, "for", now.Sub(s.since).Round(time.Millisecond), "stack", goroutineStack(l.gid.Load()))
			}
		}
	}
}

// goroutineStack returns the stack of the goroutine with id gid, as
// runtime.Stack prints it, or a note if it cannot be found. runtime.Stack
// of every goroutine stops the world while it writes, which is why it is
// done once per stall, never while the loop serves.
func goroutineStack(gid uint64) string {
	head := []byte("goroutine " + strconv.FormatUint(gid, 10) + " [")
	for size := 64 << 10; size <= 64<<20; size *= 4 {
		buf := make([]byte, size)
		n := runtime.Stack(buf, true)
		// Each goroutine's section starts a line and ends at a blank one.
		all := append([]byte{'\n'}, buf[:n]...)
		if i := bytes.Index(all, append([]byte{'\n'}, head...)); i >= 0 {
			s := all[i+1:]
			if j := bytes.Index(s, []byte("\n\n")); j >= 0 {
				return string(s[:j])
			}
			if n < len(buf) {
				return string(s)
			}
		}
		if n < len(buf) {
			break // every goroutine was written, and it is not among them
		}
	}
	return "(the loop's goroutine was not found)"
}
