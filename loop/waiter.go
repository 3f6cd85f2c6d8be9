package loop

import (
	"context"
	"sync"
	"sync/atomic"
)

// A waiter is one call from another goroutine that waits for its loop's
// answer: WriteWait's bytes (p), or DoWait's function (fn, or cfn for a
// connection's).
type waiter struct {
	p     []byte
	fn    func()
	cfn   func(*Conn)
	state atomic.Int32 // waiterWaiting, then waiterTaken (the loop) or waiterAbandoned (the caller)
	done  chan error   // the loop's answer, once taken
}

const (
	waiterWaiting int32 = iota
	waiterTaken
	waiterAbandoned
)

// waiterPool recycles waiters and their channels: a producer may call
// WriteWait for every message, so each call's allocations would be garbage
// at the peer's pace. A waiter goes back only once its caller has received
// the loop's answer, after which the loop no longer looks at it (an
// abandoned one stays with the loop and is not recycled).
var waiterPool = sync.Pool{New: func() any { return &waiter{done: make(chan error, 1)} }}

// mayWait is what a call that waits for a loop checks first: that it is
// not made on any of the engine's loops (on its own loop it would wait for
// itself; on another it would block that loop's every connection, and two
// loops waiting on each other would wait for ever), and that ctx is not
// done already.
func (e *Engine) mayWait(ctx context.Context) error {
	if e.OnLoopGoroutine() {
		return ErrOnLoop
	}
	return ctx.Err()
}

func newWaiter() *waiter {
	w := waiterPool.Get().(*waiter)
	w.state.Store(waiterWaiting)
	return w
}

// wait queues t, w's task, on l and waits for the loop's answer, or for
// ctx to end first: then the loop, finding w abandoned, does not act on it,
// and ctx's error is returned. Once the loop has taken w, its answer is
// awaited even if ctx ends meanwhile, so the caller knows what happened.
func (w *waiter) wait(ctx context.Context, l *Loop, t task) error {
	if err := l.enqueue(t); err != nil {
		w.recycle()
		return err
	}
	select {
	case err := <-w.done:
		w.recycle()
		return err
	case <-ctx.Done():
		if w.state.CompareAndSwap(waiterWaiting, waiterAbandoned) {
			return ctx.Err() // w stays the loop's: not recycled
		}
		err := <-w.done // the loop took it meanwhile
		w.recycle()
		return err
	}
}

// take claims w for the loop, unless its caller gave up; the loop must
// then answer it.
func (w *waiter) take() bool { return w.state.CompareAndSwap(waiterWaiting, waiterTaken) }

// reply gives a taken w's caller err, and has the loop let that caller
// run before it next waits (woken.go).
func (w *waiter) reply(l *Loop, err error) {
	w.done <- err
	l.woke.Store(true)
}

// answer tells w's caller err, unless it gave up meanwhile; l is the loop
// answering.
func (w *waiter) answer(l *Loop, err error) {
	if w.take() {
		w.reply(l, err)
	}
}

// recycle gives w back once its caller has the loop's answer.
func (w *waiter) recycle() {
	w.p, w.fn, w.cfn = nil, nil, nil
	waiterPool.Put(w)
}
