// Package selector is Python's selectors module done in Go: register file
// objects with an interest set and user data, then Select the ones that are
// ready. It sits on an evsel.Poller, so the same code runs on epoll, kqueue,
// poll(2) and IOCP.
//
// Differences from Python worth knowing:
//   - Select reuses its result slice: the []Ready it returns is valid until the
//     next Select, and a call in steady state allocates nothing.
//   - If a handler unregisters or modifies another key that is later in the
//     current batch, that entry's Events are updated in place (to zero for an
//     unregistered key), so the usual "if r.Events&EventRead != 0" handler
//     never touches a descriptor it just gave up.
//   - Select's timeout is a time.Duration: zero or negative polls, as
//     Python's 0 or a negative number does, and Forever stands for
//     Python's None. So a Select(time.Until(deadline)) whose deadline has
//     passed returns at once instead of waiting for ever.
//   - One Select reports at most DefaultBatch ready descriptors, where
//     Python's reports them all; the rest are reported by the next call
//     (readiness is level-triggered), so nothing is lost, and a loop that
//     goes round serves every descriptor.
//   - Wake interrupts a blocked Select from any goroutine.
//
// A Selector, like Python's, is not safe for concurrent use; only Wake may be
// called from other goroutines.
package selector

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"syscall"
	"time"

	"github.com/evsel/evsel"
)

// Events is an interest set or a readiness report.
type Events = evsel.Events

// The two events a key can be registered for, as in Python.
const (
	EventRead  = evsel.EventRead
	EventWrite = evsel.EventWrite
)

// Sentinel errors, matching the exceptions of CPython's Lib/selectors.py.
var (
	// ErrInvalidEvents: the event mask is empty or has unknown bits (ValueError).
	ErrInvalidEvents = errors.New("selector: invalid events")
	// ErrInvalidFile: not a descriptor, or a negative one (ValueError), or
	// one larger than a C int (OverflowError).
	ErrInvalidFile = errors.New("selector: invalid file object")
	// ErrAlreadyRegistered: the descriptor has a key already (KeyError).
	ErrAlreadyRegistered = errors.New("selector: file object is already registered")
	// ErrNotRegistered: the descriptor has no key (KeyError).
	ErrNotRegistered = errors.New("selector: file object is not registered")
	// ErrClosed: the selector was closed (RuntimeError in Python).
	ErrClosed = errors.New("selector: selector is closed")
)

// Key is what a registration holds, like Python's SelectorKey. Treat its
// fields as read-only: Modify is the way to change them.
type Key struct {
	File   any    // what was registered: a socket, an *os.File, an fd...
	Fd     int    // its descriptor
	Events Events // the interest set
	Data   any    // the caller's data
}

// Ready is one entry of a Select result: a key and which of its events are
// ready.
type Ready struct {
	Key    *Key
	Events Events
}

// fdDirect bounds the descriptors kept in the slice table; larger ones (rare
// on unix, usual for Windows handles) go to a map.
const fdDirect = 1 << 16

// Selector multiplexes readiness over many descriptors.
type Selector struct {
	poller evsel.Poller
	direct []*Key       // fd -> key for fd < fdDirect
	far    map[int]*Key // fd -> key for the rest
	count  int
	events []evsel.Event
	ready  []Ready
	closed bool
}

// DefaultBatch is how many ready descriptors one Select reports at most; the
// rest are reported by the next call (readiness is level-triggered).
const DefaultBatch = 256

// New returns a selector on the platform's best poller (epoll on Linux,
// kqueue on BSD and macOS, IOCP on Windows), like selectors.DefaultSelector.
func New() (*Selector, error) { return open(evsel.NewPoller()) }

// NewBackend returns a selector on the named poller backend ("epoll",
// "kqueue", "poll", "iocp"), one of Backends. A name the platform has no
// backend of fails with an error matching evsel.ErrNoBackend.
func NewBackend(name string) (*Selector, error) { return open(evsel.NewPollerNamed(name)) }

// Backends names the backends this platform has, the default first.
func Backends() []string { return evsel.Backends() }

func open(p evsel.Poller, err error) (*Selector, error) {
	if err != nil {
		return nil, err
	}
	return &Selector{
		poller: p,
		far:    make(map[int]*Key),
		events: make([]evsel.Event, DefaultBatch),
		ready:  make([]Ready, 0, DefaultBatch),
	}, nil
}

// Backend names the poller this selector runs on.
func (s *Selector) Backend() string { return s.poller.Name() }

func (s *Selector) get(fd int) *Key {
	if fd < fdDirect {
		if fd < len(s.direct) {
			return s.direct[fd]
		}
		return nil
	}
	return s.far[fd]
}

func (s *Selector) set(fd int, k *Key) {
	if fd >= fdDirect {
		if k == nil {
			delete(s.far, fd)
		} else {
			s.far[fd] = k
		}
		return
	}
	if fd >= len(s.direct) {
		if k == nil {
			return
		}
		grown := make([]*Key, max(fd+1, 2*len(s.direct), 64))
		copy(grown, s.direct)
		s.direct = grown
	}
	s.direct[fd] = k
}

// fileno finds the descriptor of f, like Python's _fileobj_to_fd: an int (or
// uintptr), a syscall.Conn such as *net.TCPConn or *os.File, or anything with
// Fd() uintptr (evsel sockets).
//
// syscall.Conn is tried before Fd because (*os.File).Fd has side effects: on
// unix it switches the descriptor to blocking mode, which turns off the
// file's deadlines, and on Windows it detaches the handle from the runtime's
// completion port. Registering a file must not change how it behaves.
func fileno(f any) (int, error) {
	var fd int
	switch v := f.(type) {
	case int:
		fd = v
	case uintptr:
		fd = int(v)
	case syscall.Conn:
		rc, err := v.SyscallConn()
		if err != nil {
			return -1, fmt.Errorf("%w: %v", ErrInvalidFile, err)
		}
		fd = -1
		if err := rc.Control(func(d uintptr) { fd = int(d) }); err != nil {
			return -1, fmt.Errorf("%w: %v", ErrInvalidFile, err)
		}
	case interface{ Fd() uintptr }:
		fd = int(v.Fd())
	default:
		return -1, fmt.Errorf("%w: %T has no descriptor", ErrInvalidFile, f)
	}
	if fd < 0 || fd > math.MaxInt32 {
		// Past MaxInt32 the kernel, whose descriptors are C ints, would
		// be handed another descriptor: the number truncated.
		return -1, fmt.Errorf("%w: descriptor %d", ErrInvalidFile, fd)
	}
	return fd, nil
}

func validEvents(ev Events) bool {
	return ev != 0 && ev&^(EventRead|EventWrite) == 0
}

// Register starts watching f for events and returns its new key.
func (s *Selector) Register(f any, events Events, data any) (*Key, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if !validEvents(events) {
		return nil, fmt.Errorf("%w: %#x", ErrInvalidEvents, uint32(events))
	}
	fd, err := fileno(f)
	if err != nil {
		// A file object closed while registered is still registered, as
		// in Python (_fileobj_lookup's search by identity).
		if s.find(f) != nil {
			return nil, fmt.Errorf("%w: %T (closed)", ErrAlreadyRegistered, f)
		}
		return nil, err
	}
	if s.get(fd) != nil {
		return nil, fmt.Errorf("%w: fd %d", ErrAlreadyRegistered, fd)
	}
	if err := s.poller.Add(fd, events); err != nil {
		return nil, err
	}
	k := &Key{File: f, Fd: fd, Events: events, Data: data}
	s.set(fd, k)
	s.count++
	return k, nil
}

// Modify changes the events and data of f's key and returns it. Changing
// only the data does not touch the kernel. If the poller refuses the
// change (the descriptor was closed, or closed and its number reused:
// the error matches evsel.ErrNotRegistered or the errno), the key is
// unregistered, as Python's selectors does (bpo-30014).
func (s *Selector) Modify(f any, events Events, data any) (*Key, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if !validEvents(events) {
		return nil, fmt.Errorf("%w: %#x", ErrInvalidEvents, uint32(events))
	}
	k, err := s.lookup(f)
	if err != nil {
		return nil, err
	}
	if events != k.Events {
		if err := s.poller.Modify(k.Fd, events); err != nil {
			s.drop(k)
			return nil, err
		}
		k.Events = events
		s.patchBatch(k, events)
	}
	k.Data = data
	return k, nil
}

// Unregister stops watching f and returns its key, Events and Data as they
// were. Like Python, it works on a descriptor that was already closed: the
// kernel dropped it by itself.
func (s *Selector) Unregister(f any) (*Key, error) {
	if s.closed {
		return nil, ErrClosed
	}
	k, err := s.lookup(f)
	if err != nil {
		return nil, err
	}
	s.drop(k)
	return k, nil
}

// drop forgets k. The key keeps its Events, as the one Python's unregister
// returns does; its entries in the current Select result are zeroed.
func (s *Selector) drop(k *Key) {
	s.set(k.Fd, nil)
	s.count--
	// Errors are ignored on purpose (as CPython does): EBADF or ENOENT just
	// mean the descriptor was closed first and the kernel forgot it already.
	_ = s.poller.Delete(k.Fd)
	s.patchBatch(k, 0)
}

// patchBatch masks the entries of the current Select result that belong to
// k with events, after a handler changed k mid-batch.
func (s *Selector) patchBatch(k *Key, events Events) {
	for i := range s.ready {
		if s.ready[i].Key == k {
			s.ready[i].Events &= events
		}
	}
}

func (s *Selector) lookup(f any) (*Key, error) {
	fd, err := fileno(f)
	if err != nil {
		// A file object closed after it was registered has no descriptor
		// any more, yet it must still be possible to unregister it. Like
		// Python's _fileobj_lookup, fall back to finding its key by identity.
		if k := s.find(f); k != nil {
			return k, nil
		}
		return nil, err
	}
	k := s.get(fd)
	if k == nil {
		return nil, fmt.Errorf("%w: fd %d", ErrNotRegistered, fd)
	}
	return k, nil
}

// find returns the key whose File is f, by a search over every key. It is
// only used when f no longer yields a descriptor, so its cost is irrelevant.
func (s *Selector) find(f any) *Key {
	for k := range s.Map().All() {
		if sameFile(k.File, f) {
			return k
		}
	}
	return nil
}

// sameFile reports whether a and b are the same file object. File objects
// whose type is not comparable are never the same as anything.
func sameFile(a, b any) (same bool) {
	defer func() { _ = recover() }()
	return a == b
}

// Key returns f's key.
func (s *Selector) Key(f any) (*Key, error) {
	if s.closed {
		return nil, ErrClosed
	}
	return s.lookup(f)
}

// Forever is the timeout of a Select that waits until something is ready
// or a Wake, like Python's select(None).
const Forever time.Duration = math.MaxInt64

// Select waits until some registered descriptors are ready or timeout
// elapses (Forever: no limit, like Python's None; zero or negative: poll,
// as in Python) and returns them with their ready events; a positive
// timeout is waited in full, rounded up to the millisecond where the
// kernel counts in those (epoll, poll, IOCP), as Python rounds it. A Wake
// makes it return early, possibly with no entries. The slice is reused by
// the next call.
func (s *Selector) Select(timeout time.Duration) ([]Ready, error) {
	if s.closed {
		return nil, ErrClosed
	}
	switch {
	case timeout == Forever:
		timeout = -1 // the poller's "no limit"
	case timeout < 0:
		timeout = 0
	}
	s.ready = s.ready[:0]
	n, err := s.poller.Wait(s.events, timeout)
	if err != nil {
		return nil, err
	}
	for _, e := range s.events[:n] {
		k := s.get(e.Fd)
		if k == nil {
			continue
		}
		if ev := e.Events & k.Events; ev != 0 {
			s.ready = append(s.ready, Ready{Key: k, Events: ev})
		}
	}
	return s.ready, nil
}

// Wake makes a blocked or the next Select return. Safe from any goroutine.
// After Close it returns ErrClosed.
func (s *Selector) Wake() error {
	// s.closed belongs to the selector's goroutine; the poller's own closed
	// state is the one that is safe to consult from here.
	if err := s.poller.Wake(); err != nil {
		if errors.Is(err, evsel.ErrClosed) {
			return ErrClosed
		}
		return err
	}
	return nil
}

// Close releases the poller and forgets every key; registered files are not
// closed. Closing twice is harmless.
func (s *Selector) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.direct, s.far, s.count, s.ready = nil, nil, 0, nil
	return s.poller.Close()
}

// Map returns a read-only view of the registered keys, like Python's
// get_map(); it follows later registrations.
func (s *Selector) Map() Map { return Map{s} }

// Map is a read-only view of a selector's keys, indexed by file object.
type Map struct{ s *Selector }

// Len is the number of registered keys.
func (m Map) Len() int { return m.s.count }

// Get returns f's key, if f is registered.
func (m Map) Get(f any) (*Key, bool) {
	if m.s.closed {
		return nil, false
	}
	k, err := m.s.lookup(f)
	return k, err == nil
}

// All iterates over the keys in descriptor order. Unregistering during the
// iteration is allowed.
func (m Map) All() iter.Seq[*Key] {
	return func(yield func(*Key) bool) {
		for _, k := range m.s.direct {
			if k != nil && !yield(k) {
				return
			}
		}
		if len(m.s.far) == 0 {
			return
		}
		// Large descriptors (Windows handles, usually) live in a map,
		// which has no order: sorted here, at the cost of a slice.
		for _, fd := range slices.Sorted(maps.Keys(m.s.far)) {
			if k := m.s.far[fd]; k != nil && !yield(k) {
				return
			}
		}
	}
}
