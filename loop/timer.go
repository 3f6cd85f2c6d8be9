package loop

import (
	"container/heap"
	"math"
	"time"
)

// Timer is a function scheduled on a loop by AfterFunc or Every. Its methods
// must be called on the loop that owns it.
type Timer struct {
	loop   *Loop
	when   int64         // deadline on the loop clock (Loop.clock)
	period time.Duration // > 0 for Every
	fn     func()
	index  int // position in the heap, -1 when not scheduled
}

// Stop cancels the timer. It reports whether the timer was still scheduled.
func (t *Timer) Stop() bool {
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.loop.timers, t.index)
	return true
}

// Active reports whether the timer is scheduled to fire.
func (t *Timer) Active() bool { return t.index >= 0 }

// Reset reschedules the timer to fire after d (and then every period, for a
// timer made by Every). A timer set from a timer's function for now or the
// past fires on the loop's next iteration, after the loop has served
// what is ready.
func (t *Timer) Reset(d time.Duration) {
	t.Stop()
	l := t.loop
	t.when = l.clockAfter(d)
	if l.firingTimers && t.when <= l.clock {
		// Set by a timer's function to be due now: it fires on the next
		// iteration, or a timer that sets itself again with d = 0 would
		// keep runTimers going for ever.
		t.when = l.clock + 1
	}
	heap.Push(&l.timers, t)
}

// clockAfter is the loop clock d from now, saturating so that a timer set
// far off (math.MaxInt64) does not wrap round and fire at once.
func (l *Loop) clockAfter(d time.Duration) int64 {
	if d > 0 && l.clock > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return l.clock + int64(d)
}

// timerHeap orders a loop's timers by deadline.
type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// AfterFunc runs fn on the loop after d. Call it on the loop (from a
// callback, or through Do).
func (l *Loop) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &Timer{loop: l, fn: fn, index: -1}
	t.Reset(d)
	return t
}

// Every runs fn on the loop every d, the first time after d. Call it on the
// loop (from a callback, or through Do).
func (l *Loop) Every(d time.Duration, fn func()) *Timer {
	if d <= 0 {
		d = time.Millisecond
	}
	t := &Timer{loop: l, fn: fn, period: d, index: -1}
	t.Reset(d)
	return t
}

// untilNextTimer is the Select timeout the timers allow: -1 if none.
func (l *Loop) untilNextTimer() time.Duration {
	if len(l.timers) == 0 {
		return -1
	}
	now := int64(time.Since(l.epoch)) // monotonic, as tick
	if when := l.timers[0].when; when > now {
		return time.Duration(when - now) // both ≥ 0: no overflow
	}
	return 0
}

// runTimers fires every timer that is due.
func (l *Loop) runTimers() {
	l.firingTimers = true // protect recovers a timer's panic: no defer needed
	for len(l.timers) > 0 && l.timers[0].when <= l.clock {
		t := l.timers[0]
		if t.period > 0 {
			// Reschedule from the deadline, not from now, so an Every timer
			// keeps its rhythm; skip missed beats instead of bursting (a
			// beat due at this clock too: it would fire twice in one run).
			t.when += int64(t.period) // past math.MaxInt64 it wraps below the clock: saturated next
			if t.when <= l.clock {
				t.when = l.clockAfter(t.period)
			}
			heap.Fix(&l.timers, 0)
		} else {
			heap.Pop(&l.timers)
		}
		l.protect(nil, t.fn)
	}
	l.firingTimers = false
}
