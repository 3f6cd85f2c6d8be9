package loop

import "runtime"

// Letting woken goroutines run.
//
// A callback often wakes a goroutine that waits for it: the loop answers
// a WriteWait caller once its bytes are queued, feeds a TLS handshake its
// input, hands a msgloop client's Do its response. When every P is held by
// a loop (GOMAXPROCS=1, as in a one-CPU container, or Loops=GOMAXPROCS
// with every loop busy) the woken goroutine runs only when its loop lets go
// of the P, and a loop about to wait raw (rawwait.go) keeps it for up to
// evsel.MaxRawWait, while the completion driver yields at most every 4 ms
// (uringYieldInterval). So a loop that knows it woke one yields twice
// before it waits: once is not always enough, as the scheduler now and
// then resumes the yielding goroutine, from the global queue, before the
// woken one. (The io_uring loop, locked to its thread, yields once where
// a P is spare, Loop.spareP: each of its yields hands its P to another
// thread and back.) Whether the woken goroutine has run cannot be told
// from its channel: a send to a goroutine already waiting leaves the
// channel empty.
//
// Calls of WriteWait for 64 bytes, GOMAXPROCS=1, the peer reading in
// another process, 2,000 calls, three runs each (how many took over
// 3 ms; how many over 100 µs): io_uring without a yield for them 1,507,
// 1,547, 1,435 (the loop's 4–5 ms raw wait; 1,548, 1,645, 1,483); with
// one yield 33, 34, 32 (79, 107, 199); with two 0, 0, 1 (448, 254, 95).
// epoll, which yields once after every busy iteration anyway: 0, 0, 0
// (865, 935, 992); 0, 19, 1 (39, 73, 99); 0, 1, 0 (1, 0, 6).

// Woke tells the loop that the running callback (or timer, or Do's
// function) woke a goroutine that waits for it, by sending it a result or
// releasing what it waits on, so that the loop lets that goroutine run
// before it next waits in the kernel, rather than after. It matters when
// every P is held by a loop: the loop yields after an iteration with work,
// but on io_uring only every 4 ms, and even on epoll one yield sometimes
// resumes the loop first, leaving the woken goroutine waiting for as long
// as the loop's wait lasts (up to evsel.MaxRawWait). The engine calls it
// for the goroutines it wakes itself (WriteWait's and DoWait's callers,
// TLS handshakes). It costs one or two yields of the P before that wait. Call
// it on the loop; from elsewhere it is harmless and useless.
func (l *Loop) Woke() { l.woke.Store(true) }

// yieldToWoken yields once if the loop woke a goroutine that waits for it
// since it last waited, and reports whether it did: the caller then yields
// again (as it may for reasons of its own) before it waits.
func (l *Loop) yieldToWoken() bool {
	if !l.woke.Load() {
		return false
	}
	l.woke.Store(false)
	runtime.Gosched()
	return true
}
