package loop

import "runtime"

// Letting the engine's goroutines run.
//
// Some of the engine's work runs on goroutines the loop wakes with a
// channel send: a WriteWait caller once its bytes are queued, a TLS
// handshake once its input has come. When every P is held by loops
// (GOMAXPROCS=1, as in a one-CPU container) such a goroutine runs only
// when the loop lets go of its P, and a loop about to wait raw
// (evsel.RawWaiter, Uring.SubmitAndWaitRaw) keeps it for up to
// evsel.MaxRawWait, while the completion driver yields at most every
// 4 ms (uringYieldInterval). So a loop that woke one yields twice before
// it waits: once is not always enough, as the scheduler now and then
// takes the yielding goroutine back from the global queue before the woken
// one. (Whether the woken goroutine has run cannot be told from its
// channel: a send to a goroutine already waiting leaves the channel
// empty.)
//
// Calls of WriteWait for 64 bytes, GOMAXPROCS=1, the peer reading in
// another process, 2,000 calls, three runs each (how many took over
// 3 ms; how many over 100 µs): io_uring without a yield for them 1,507,
// 1,547, 1,435 (the loop's 4–5 ms raw wait; 1,548, 1,645, 1,483); with
// one yield 33, 34, 32 (79, 107, 199); with two 0, 0, 1 (448, 254, 95).
// epoll, which yields once after every busy iteration anyway: 0, 0, 0
// (865, 935, 992); 0, 19, 1 (39, 73, 99); 0, 1, 0 (1, 0, 6).

// yieldToWoken yields once if the loop woke one of the engine's
// goroutines since it last waited, and reports whether it did: the caller
// then yields again (as it may for reasons of its own) before it waits.
func (l *Loop) yieldToWoken() bool {
	if !l.woke {
		return false
	}
	l.woke = false
	runtime.Gosched()
	return true
}
