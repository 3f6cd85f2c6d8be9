package evsel

import (
	"errors"
	"math"
	"time"
)

// Events is a readiness interest set or a readiness report.
// The values match Python's selectors.EVENT_READ and EVENT_WRITE.
type Events uint32

const (
	// EventRead is readiness to read, to accept, or to observe an error or
	// hang-up through the next read.
	EventRead Events = 1 << 0
	// EventWrite is readiness to write, completion of a non-blocking connect,
	// or an error to observe through the next write.
	EventWrite Events = 1 << 1
	// EventEdge asks for edge-triggered notification where the backend
	// supports it (epoll, kqueue). It is only meaningful in an interest set;
	// backends without edge triggering reject it with ErrEdgeUnsupported.
	EventEdge Events = 1 << 7

	// EventReadWrite is EventRead|EventWrite.
	EventReadWrite = EventRead | EventWrite
)

// String returns a short form such as "R", "W", "RW" or "RW|edge".
func (e Events) String() string {
	s := ""
	if e&EventRead != 0 {
		s += "R"
	}
	if e&EventWrite != 0 {
		s += "W"
	}
	if e&EventEdge != 0 {
		s += "|edge"
	}
	if s == "" {
		return "-"
	}
	return s
}

// Event is one readiness report from Poller.Wait.
type Event struct {
	Fd     int
	Events Events
}

// Poller is a readiness poller: the one abstraction every platform backend
// implements. A Poller is owned by one goroutine; only Wake may be called from
// others.
//
// Readiness is level-triggered unless EventEdge is in the interest set. Errors
// and hang-ups are reported as readiness for the interests the descriptor has,
// so that the caller's next read or write returns the real error instead of the
// poller swallowing it.
type Poller interface {
	// Add starts watching fd for the events in ev.
	Add(fd int, ev Events) error
	// Modify replaces the interest set of a watched fd.
	Modify(fd int, ev Events) error
	// Delete stops watching fd. It must be called before fd is closed when
	// the descriptor may be shared, and is harmless after.
	Delete(fd int) error
	// Wait blocks until at least one watched descriptor is ready, Wake is
	// called, or timeout elapses (a negative timeout waits forever, zero
	// polls). It fills events from the start and returns how many it filled;
	// a wake-up alone returns 0. Interrupted system calls are retried with the
	// remaining time. Wait does not allocate in steady state.
	Wait(events []Event, timeout time.Duration) (int, error)
	// Wake makes a concurrent or the next Wait return. It is safe to call
	// from any goroutine, and calls between two Waits coalesce into one.
	Wake() error
	// Close releases the poller. Watched descriptors are not closed.
	Close() error
	// Name is the backend's name: "epoll", "kqueue", "poll" or "iocp".
	Name() string
}

// RawWaiter is a Poller that can also wait as one raw system call, without
// the Go scheduler's system-call bookkeeping (the epoll backend).
//
// Why: a goroutine blocked in an ordinary system call leaves its P to the
// runtime's monitor (sysmon), which takes it back after 20 µs, wakes
// another thread to hold it and polls again 20 µs later. When event loops
// hold every P and each wait lasts a little longer than that (a lightly
// loaded server: one connection, a round trip per wait), the monitor never
// backs off: 0.3 extra thread wake-ups and 0.8 of its own sleeps per
// message, 52 µs of server CPU per message against 27 for a C server. A
// raw wait keeps the P, so the monitor sees a running goroutine and backs
// off to its 10 ms period (24.6 µs against C's 24.4, in every round).
//
// The cost: no other goroutine runs on the waiting goroutine's P until the
// wait returns. WaitRaw therefore waits at most MaxRawWait, less than the
// runtime's own 10 ms preemption quantum (and than the 10–20 ms a monitor
// in its slow period takes to retake the P of an ordinary blocked wait),
// and returns at once, with no events, when a signal interrupts it, so a
// preemption the runtime asked for (a garbage collection stopping the
// world) is taken at the caller's next function call. A caller with
// nothing to do for longer waits again with Wait.
type RawWaiter interface {
	// WaitRaw is Wait made as one raw system call: a negative timeout or
	// one above MaxRawWait waits MaxRawWait; an interruption, like the
	// timeout, returns 0 and no error.
	WaitRaw(events []Event, timeout time.Duration) (int, error)
}

// MaxRawWait bounds RawWaiter.WaitRaw. Shorter bounds left the monitor's
// slow mode too often in the one-connection benchmark (1 ms: 33.9 µs per
// message against 26.7 with 5 ms, C 26.0).
const MaxRawWait = 5 * time.Millisecond

// Errors common to every backend.
var (
	// ErrClosed is returned by a Poller or Socket used after Close.
	ErrClosed = errors.New("evsel: use of closed poller or socket")
	// ErrEdgeUnsupported is returned when EventEdge is asked of a backend
	// that has no edge-triggered mode.
	ErrEdgeUnsupported = errors.New("evsel: edge-triggered readiness not supported by this poller")
	// ErrNotRegistered is returned by Modify or Delete for an fd the poller
	// does not watch (backends that track registrations in user space).
	ErrNotRegistered = errors.New("evsel: descriptor not registered")
	// ErrAlreadyRegistered is returned by Add for an fd already watched.
	ErrAlreadyRegistered = errors.New("evsel: descriptor already registered")
	// ErrNoBackend is returned by NewPollerNamed for a name that is not one
	// of this platform's Backends.
	ErrNoBackend = errors.New("evsel: no such poller backend on this platform")
)

// timeoutMillis converts a timeout to the millisecond argument of
// epoll_wait/poll, rounding up so that a short positive timeout never turns
// into a zero-timeout busy loop (as CPython's selectors does).
func timeoutMillis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	if d > math.MaxInt32*time.Millisecond { // before rounding, which could overflow
		return math.MaxInt32
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// deadline tracks the remaining time of a Wait across EINTR retries.
type deadline struct {
	timeout time.Duration
	end     time.Time
	retry   bool // remaining was asked before: the first wait has begun
}

func newDeadline(timeout time.Duration) deadline {
	if timeout <= 0 {
		return deadline{timeout: timeout}
	}
	return deadline{timeout: timeout, end: time.Now().Add(timeout)}
}

// newMillisDeadline is newDeadline for a wait counted in milliseconds
// (epoll, poll, IOCP): the end is the timeout rounded up to the
// millisecond, as the first wait is (timeoutMillis), so that a retry after
// EINTR waits the rest of that millisecond rather than polling: a
// Select(1ns) interrupted by a signal 30 µs in still waits its millisecond.
func newMillisDeadline(timeout time.Duration) deadline {
	if timeout <= 0 || timeout > math.MaxInt32*time.Millisecond {
		return newDeadline(timeout)
	}
	return newDeadline(time.Duration(timeoutMillis(timeout)) * time.Millisecond)
}

// remaining is the time left; zero or negative timeouts are returned as is.
// The first call returns the whole timeout: measured from the start, a
// timeout shorter than the few microseconds a Wait takes to get there
// would already be spent, and a Select(1ns) would poll where Python's
// select(1e-9) waits the millisecond it rounds up to.
func (d *deadline) remaining() time.Duration {
	if d.timeout <= 0 {
		return d.timeout
	}
	if !d.retry {
		d.retry = true
		return d.timeout
	}
	left := time.Until(d.end)
	if left < 0 {
		return 0
	}
	return left
}
