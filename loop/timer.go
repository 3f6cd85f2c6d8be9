package loop

import (
	"container/heap"
	"time"
)

// Timer is a function scheduled on a loop by AfterFunc or Every. Its methods
// must be called on the loop that owns it.
type Timer struct {
	loop   *Loop
	when   time.Time
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
// timer made by Every).
func (t *Timer) Reset(d time.Duration) {
	t.Stop()
	t.when = t.loop.now.Add(d)
	heap.Push(&t.loop.timers, t)
}

// timerHeap orders a loop's timers by deadline.
type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
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
	d := time.Until(l.timers[0].when) // monotonic only, as tick
	if d < 0 {
		return 0
	}
	return d
}

// runTimers fires every timer that is due.
func (l *Loop) runTimers() {
	for len(l.timers) > 0 && !l.timers[0].when.After(l.now) {
		t := l.timers[0]
		if t.period > 0 {
			// Reschedule from the deadline, not from now, so an Every timer
			// keeps its rhythm; skip missed beats instead of bursting.
			t.when = t.when.Add(t.period)
			if t.when.Before(l.now) {
				t.when = l.now.Add(t.period)
			}
			heap.Fix(&l.timers, 0)
		} else {
			heap.Pop(&l.timers)
		}
		l.protect(nil, t.fn)
	}
}
