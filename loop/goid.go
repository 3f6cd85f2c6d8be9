package loop

import (
	"runtime"
	"sync"
)

// stackHeaderPool holds goid's buffers: one passed to runtime.Stack
// escapes, and WriteWait, which a producer calls per message, asks goid.
var stackHeaderPool = sync.Pool{New: func() any { return new([32]byte) }}

// goid returns the calling goroutine's id, read from the header of its
// stack trace ("goroutine 18 [running]:"). runtime.Stack walks and prints
// the whole stack to make that header: 6 µs from a benchmark's shallow
// stack, 17 µs ten frames deeper, on the bench's host. So it is called
// where a loop starts and in the calls that must refuse to run on a loop
// (Stop, Listen, msgloop's Dial, WriteWait, and Do after a millisecond's
// wait), never by a loop per event. A loop's thread cannot stand for it: the readiness driver
// unlocks the thread while it waits. The id is only compared, so a header
// it cannot parse yields 0, which matches no loop: the call then behaves
// as it did before the check existed.
func goid() uint64 {
	bp := stackHeaderPool.Get().(*[32]byte)
	defer stackHeaderPool.Put(bp)
	buf := bp[:]
	n := runtime.Stack(buf, false)
	const prefix = "goroutine "
	if n <= len(prefix) || string(buf[:len(prefix)]) != prefix {
		return 0
	}
	var id uint64
	for _, b := range buf[len(prefix):n] {
		if b < '0' || b > '9' {
			break
		}
		id = id*10 + uint64(b-'0')
	}
	return id
}

// OnLoopGoroutine reports whether the caller runs on one of the engine's
// loops (in a callback, timer or task) or runs Options.OnShutdown: the
// goroutines a call that waits for the engine would wait for itself. The
// engine's own such calls return ErrOnLoop there, and a library over the
// engine can do the same. While a loop is running it takes some
// microseconds (see goid; nanoseconds while every loop waits): ask it
// before a wait that costs more anyway (a connect), or once a wait has
// lasted, never per event.
func (e *Engine) OnLoopGoroutine() bool {
	if !e.mayBeOnLoop() {
		return false
	}
	id := goid()
	if id == 0 {
		return false
	}
	if e.shutdownGID.Load() == id {
		return true
	}
	for _, l := range e.loops {
		if l.gid.Load() == id {
			return true
		}
	}
	return false
}

// OnLoopGoroutine reports whether the caller runs on this loop's goroutine,
// at the cost of Engine.OnLoopGoroutine's.
func (l *Loop) OnLoopGoroutine() bool {
	if l.beat.v.Load()&1 != 0 && !l.e.stopping.Load() {
		return false // waiting in its poll: not running the caller
	}
	id := goid()
	return id != 0 && l.gid.Load() == id
}

// mayBeOnLoop is the cheap half of OnLoopGoroutine's question: false when
// no goroutine of the engine's can be the caller, because every loop is
// waiting in its poll (its beat says so, stall.go) and the engine is not
// stopping (the loops exit, and OnShutdown runs, only once it is). A loop
// runs callbacks, tasks and timers only between its beat's working and
// waiting, so a caller on a loop always finds its own loop working. A
// producer calling WriteWait while the loops wait, its usual case, then
// skips goid's microseconds.
func (e *Engine) mayBeOnLoop() bool {
	if e.stopping.Load() {
		return true
	}
	for _, l := range e.loops {
		if l.beat.v.Load()&1 == 0 {
			return true
		}
	}
	return false
}
