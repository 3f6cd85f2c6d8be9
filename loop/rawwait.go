package loop

import (
	"runtime"
	"sync/atomic"
	"time"
)

// When a raw wait is fair.
//
// A raw wait (evsel.RawWaiter, Uring.SubmitAndWaitRaw; see
// pollDriver.poll) keeps the loop's P while it blocks, for up to
// evsel.MaxRawWait. That is what a loop with a P of its own wants, and it
// measured faster there; but a loop sharing its P with another loop (two
// engines, or Options.Loops above GOMAXPROCS) keeps the other from running
// for the whole wait. A msgloop client and server in one process, one loop
// each, GOMAXPROCS=1: 5.8 ms per request-response exchange (median) with
// raw waits, 89 µs without (epoll; 12 ms against 0.25 on io_uring). So a
// loop waits raw only while the process's loops, of every engine, are no
// more than its Ps.

// loopsRunning counts the loops of every engine in the process that have
// started and not yet exited.
var loopsRunning atomic.Int32

// maxprocsRefresh is how often a loop reads GOMAXPROCS again (it takes
// the scheduler's lock; the runtime may change it as the container's CPU
// limit changes).
const maxprocsRefresh = time.Second

// rawWaitFair reports whether the loop may wait raw: every loop of the
// process has a P of its own.
func (l *Loop) rawWaitFair() bool { return loopsRunning.Load() <= l.procs() }

// spareP reports whether the process has a P no loop needs, where a
// goroutine a loop wakes can run without that loop's.
func (l *Loop) spareP() bool { return loopsRunning.Load() < l.procs() }

// procs is GOMAXPROCS, read again every maxprocsRefresh.
func (l *Loop) procs() int32 {
	if l.clock >= l.maxprocsAt {
		l.maxprocsAt = l.clock + int64(maxprocsRefresh)
		l.maxprocs = int32(runtime.GOMAXPROCS(0))
	}
	return l.maxprocs
}
