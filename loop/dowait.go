package loop

import "context"

// DoWait: a call into the loop that waits for its answer. Do queues a
// function and returns at once; a goroutine that wants something back (a
// connection's Buffered, a handler's state, a write made only if the
// connection is in some state) sends it from the function to a channel of
// its own. That goroutine is woken from the loop, which does not know it,
// and, where every P is held by a loop, may wait out the loop's next wait
// before it runs. DoWait tells the loop (Woke, woken.go), gives the caller
// a panic as an error, and takes a ctx. BenchmarkDoWait, asking for
// Buffered, µs per call, three runs: GOMAXPROCS=1, io_uring, Do and a
// channel 4,908–5,109 (nine calls in ten over 1 ms), DoWait 29–32; epoll
// 84–108 against 2.4–2.7; GOMAXPROCS=2, epoll 28–34 against 2.7–3.6,
// io_uring 34–36 against 31–60 (its loop, locked to its thread, yields
// for a woken goroutine only where no P is spare).

// DoWait runs fn on the loop, as Do does, and returns once it has run, so
// that what fn stored is the caller's to read; the loop lets the caller
// run before it next waits (see Woke). ctx bounds the wait for the loop
// to take fn: when it ends first, fn does not run and ctx's error is
// returned; once the loop has taken fn, DoWait waits for it to return. It
// returns ErrStopped if the loop has exited or exits before fn runs, a
// *PanicError if fn panicked (logged, as a callback's panic is), and nil
// otherwise. It is for goroutines other than the loops: on a loop
// goroutine (any of the engine's) it would wait for itself or block a
// loop, and returns ErrOnLoop at once.
func (l *Loop) DoWait(ctx context.Context, fn func()) error {
	if err := l.e.mayWait(ctx); err != nil {
		return err
	}
	w := newWaiter()
	w.fn = fn
	return w.wait(ctx, l, task{kind: taskCall, waiter: w})
}

// DoWait runs fn(c) on c's loop, as Do does, and returns once it has run,
// as Loop.DoWait does. It returns ErrClosed, and fn does not run, if c is
// closed by then; a panic in fn closes c with the *PanicError DoWait
// returns, as a panic in a callback would.
func (c *Conn) DoWait(ctx context.Context, fn func(c *Conn)) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.loop.e.mayWait(ctx); err != nil {
		return err
	}
	w := newWaiter()
	w.cfn = fn
	return w.wait(ctx, c.loop, task{kind: taskCall, conn: c, waiter: w})
}

// call runs a DoWait's function for c (nil for Loop.DoWait) and answers
// its caller, unless the caller gave up or c has closed.
func (l *Loop) call(c *Conn, w *waiter) {
	if c != nil && c.closed.Load() {
		w.answer(l, ErrClosed)
		return
	}
	if w.take() {
		w.reply(l, l.protectCall(c, w))
	}
}

// protectCall is protect for a DoWait's function, returning the panic.
func (l *Loop) protectCall(c *Conn, w *waiter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = l.handlerPanicked(c, r)
		}
	}()
	if c != nil {
		w.cfn(c)
	} else {
		w.fn()
	}
	return nil
}
