package loop

import "context"

// Stop shuts the engine down gracefully: it stops accepting, lets every
// connection flush its pending output (and a peer still sending up to 2 s
// to end its side, see Conn.Close), closes them (OnClose gets
// ErrStopped), and returns when every loop goroutine has exited. If ctx ends
// first, the remaining connections are closed at once, dropping their
// output, and ctx's error is returned once the loops are gone.
//
// Stop waits for the loops, so on a loop goroutine (a callback, timer, Do
// task or OnShutdown) it would wait for itself: there it returns ErrOnLoop
// at once and stops nothing. Use StopAsync there.
//
// Before it returns, as before Done is closed, the engine waits (at most a
// second, past ctx too) for a QueuedHandler Logger's records; that wait
// does not make a stop that was over in time return ctx's error.
func (e *Engine) Stop(ctx context.Context) error {
	if e.OnLoopGoroutine() {
		return ErrOnLoop
	}
	e.beginStop()
	select {
	case <-e.shut:
		<-e.done
		return nil
	case <-ctx.Done():
	}
	e.forceStop()
	<-e.done
	return ctx.Err()
}

// StopAsync begins the graceful shutdown Stop does and returns at once; Done
// is closed when it is over. If ctx ends first, the remaining connections
// are closed at once, dropping their output. It is safe from any goroutine,
// loop callbacks included, and more than once (the first ctx to end forces
// the stop).
func (e *Engine) StopAsync(ctx context.Context) {
	e.beginStop()
	if ctx.Done() == nil {
		return
	}
	go func() {
		select {
		case <-e.done:
		case <-ctx.Done():
			e.forceStop()
		}
	}()
}

// beginStop asks every loop, once, to stop accepting and close its
// connections when their output is flushed.
func (e *Engine) beginStop() {
	if e.stopping.CompareAndSwap(false, true) {
		for _, l := range e.loops {
			l.Do(l.beginStop)
		}
	}
}

// forceStop asks every loop to close its connections now. A loop that has
// exited refuses the task, which is what it would do anyway.
func (e *Engine) forceStop() {
	for _, l := range e.loops {
		l.Do(l.forceStop)
	}
}

// Done is closed when every loop has exited (and Options.OnShutdown has
// returned).
func (e *Engine) Done() <-chan struct{} { return e.done }

// beginStop stops accepting and asks every connection to close once its
// output is flushed.
func (l *Loop) beginStop() {
	l.stopping = true
	for _, ln := range l.listeners {
		ln.close()
	}
	l.listeners = nil
	l.closePackets()
	for c := range l.fds.all() {
		c.closeWith(ErrStopped, c.flags&flagDialing != 0)
	}
	for c := range l.resolving {
		c.closeWith(ErrStopped, true)
	}
}

// forceStop closes every connection now.
func (l *Loop) forceStop() {
	l.beginStop()
	for c := range l.fds.all() {
		c.closeWith(ErrStopped, true)
	}
}

// shutdown runs when the loop exits: refuse new tasks, drop queued ones
// (their connections are closed), release the driver.
func (l *Loop) shutdown() {
	for _, t := range l.tasks.close() {
		// Connection tasks die with their (closed) connections; loop tasks,
		// such as handing over an accepted socket, run so they can see the
		// loop is stopping and release what they hold. The callers of
		// WriteWait and DoWait are answered; a DoWait's function does not
		// run.
		switch {
		case t.kind == taskCall && t.conn == nil:
			t.waiter.answer(l, ErrStopped) // its function does not run
		case t.kind == taskAdmit, t.kind == taskCall:
			t.waiter.answer(l, ErrClosed) // its connection closed with the loop
		case t.conn == nil:
			l.protect(nil, t.fn)
		case t.kind == taskRegister:
			t.conn.sock.Close()
		}
	}
	l.timers = nil
	l.fds = fdTable{}
	l.closeReserve()
	if err := l.drv.close(); err != nil {
		l.e.log.Warn("loop: closing driver", "loop", l.id, "err", err)
	}
}
