package loop

import (
	"sync"
	"sync/atomic"
)

// task is work queued to a loop from another goroutine.
type task struct {
	kind taskKind
	conn *Conn
	buf  []byte // taskWrite's payload
	fn   func() // taskFunc's function
	// waiter is taskAdmit's WriteWait call or taskCall's DoWait call: a
	// field rather than a closure, so that neither allocates (waiter.go).
	waiter *waiter
}

type taskKind uint8

const (
	taskFunc     taskKind = iota // run fn (on behalf of conn, if set)
	taskWrite                    // write buf to conn
	taskWake                     // call OnData for conn
	taskRegister                 // take over conn from another loop's acceptor
	taskUnhold                   // ResumeReading's: hand over what waited (flow.go)
	taskAdmit                    // WriteWait's: write waiter's bytes to conn, or list it
	taskCall                     // DoWait's: run waiter's function (for conn, if set) and answer
)

// taskQueue is a loop's inbox: any goroutine pushes, the loop takes the
// whole queue at once. Two buffers are swapped so producers are not blocked
// while the tasks run.
//
// queued mirrors len(tasks) so the loop, which looks at least once per
// iteration, does not take the lock to find the queue empty. A push
// counts its task before it unlocks and before it wakes the loop, so a
// loop woken for a task, or looking after the push, sees it counted.
type taskQueue struct {
	queued atomic.Int32
	mu     sync.Mutex
	tasks  []task
	spare  []task // owned by the loop between take and recycle
	closed bool
}

// push queues t and reports whether the queue was empty, that is whether
// the loop needs waking; later tasks find it woken already.
func (q *taskQueue) push(t task) (first bool, err error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, ErrStopped
	}
	first = len(q.tasks) == 0
	q.tasks = append(q.tasks, t)
	q.queued.Store(int32(len(q.tasks)))
	q.mu.Unlock()
	return first, nil
}

// pending reports whether tasks are waiting, without the lock.
func (q *taskQueue) pending() bool { return q.queued.Load() > 0 }

// take empties the queue and returns what it held.
func (q *taskQueue) take() []task {
	if q.queued.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	tasks := q.tasks
	q.tasks, q.spare = q.spare[:0], nil
	q.queued.Store(0)
	q.mu.Unlock()
	return tasks
}

// recycle gives back the slice of a take once its tasks have run.
func (q *taskQueue) recycle(tasks []task) {
	if tasks != nil {
		q.spare = tasks[:0]
	}
}

// close refuses further tasks and returns those still queued.
func (q *taskQueue) close() []task {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	tasks := q.tasks
	q.tasks = nil
	q.queued.Store(0)
	return tasks
}

// Do runs fn on the loop. It is safe from any goroutine; it returns
// ErrStopped if the loop has exited.
func (l *Loop) Do(fn func()) error { return l.enqueue(task{fn: fn}) }

func (l *Loop) enqueue(t task) error {
	first, err := l.tasks.push(t)
	if first {
		// A Wake failing because the loop exited meanwhile is no error: the
		// exiting loop took the task with the rest (see shutdown).
		l.drv.wake()
	}
	return err
}

// enqueueOwn queues a task from the loop's own goroutine: no wake-up is
// needed, since run does not wait in the kernel while tasks are pending.
func (l *Loop) enqueueOwn(t task) {
	l.tasks.push(t) // ErrStopped only once the loop has exited
}

// runTasks runs the queued tasks.
func (l *Loop) runTasks() {
	tasks := l.tasks.take()
	for i := range tasks {
		t := &tasks[i]
		switch c := t.conn; {
		case t.kind == taskCall:
			l.call(c, t.waiter) // answers it if c has closed
		case c == nil:
			l.protect(nil, t.fn)
		case t.kind == taskRegister:
			l.register(c)
		case t.kind == taskAdmit:
			l.admitWaiter(c, t.waiter) // answers it if c has closed
		case c.closed.Load():
			// The connection went away after the task was queued.
		case t.kind == taskWrite:
			c.Write(t.buf)
		case t.kind == taskWake && c.flags&(flagClosing|flagCloseNow) != 0:
			// Closing: not read any more, so no OnData either (and one
			// closed before it connected never had OnOpen).
		case t.kind == taskWake && c.flags&flagOpen == 0:
			c.flags |= flagWakeOnOpen // OnData never comes before OnOpen
		case t.kind == taskWake && c.flags&flagHeld != 0:
			c.holdWake() // OnData follows ResumeReading
		case t.kind == taskUnhold:
			l.unhold(c)
		case t.kind == taskWake:
			l.callData(c)
			l.keepInput(c)
		default:
			l.protect(c, t.fn)
		}
		tasks[i] = task{}
	}
	l.tasks.recycle(tasks)
}
