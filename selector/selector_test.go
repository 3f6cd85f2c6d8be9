package selector_test

import (
	"errors"
	"io"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/selector"
)

// The shared selector suite, in the spirit of CPython's test_selectors.py.
// Every test runs once per backend of the platform. It uses only evsel
// sockets and Go's own net connections so that every platform can run it;
// pipes and other unix-only files are tested in selector_unix_test.go.

const (
	R  = selector.EventRead
	W  = selector.EventWrite
	RW = R | W
)

// countingPoller passes calls through to a real poller and counts them, so
// tests can tell which selector calls reach the kernel. failNext, if set,
// is returned by the next Add or Modify instead of making the call.
type countingPoller struct {
	evsel.Poller
	adds, modifies, deletes, waits int
	failNext                       error
}

func (p *countingPoller) fail() error {
	err := p.failNext
	p.failNext = nil
	return err
}

func (p *countingPoller) Add(fd int, ev evsel.Events) error {
	p.adds++
	if err := p.fail(); err != nil {
		return err
	}
	return p.Poller.Add(fd, ev)
}

func (p *countingPoller) Modify(fd int, ev evsel.Events) error {
	p.modifies++
	if err := p.fail(); err != nil {
		return err
	}
	return p.Poller.Modify(fd, ev)
}

func (p *countingPoller) Delete(fd int) error {
	p.deletes++
	return p.Poller.Delete(fd)
}

func (p *countingPoller) Wait(events []evsel.Event, timeout time.Duration) (int, error) {
	p.waits++
	return p.Poller.Wait(events, timeout)
}

// newCounting opens a selector on a counting wrapper of backend.
func newCounting(t *testing.T, backend string) (*selector.Selector, *countingPoller) {
	t.Helper()
	real, err := evsel.NewPollerNamed(backend)
	require.NoError(t, err)
	cp := &countingPoller{Poller: real}
	s, err := selector.NewWithPoller(cp)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, cp
}

func TestBackendSelection(t *testing.T) {
	backends := selector.Backends()
	require.NotEmpty(t, backends)
	s, err := selector.New()
	require.NoError(t, err)
	assert.Equal(t, backends[0], s.Backend(), "New uses the default backend")
	require.NoError(t, s.Close())

	_, err = selector.NewBackend("no-such-backend")
	assert.ErrorIs(t, err, evsel.ErrNoBackend)
}

func TestRegister(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		a, b := socketPair(t)

		k, err := s.Register(a, R, "data")
		require.NoError(t, err)
		assert.Same(t, a, k.File)
		assert.Equal(t, int(a.Fd()), k.Fd)
		assert.Equal(t, R, k.Events)
		assert.Equal(t, "data", k.Data)
		got, err := s.Key(a)
		require.NoError(t, err)
		assert.Same(t, k, got)

		// The raw descriptor works as a file object too.
		kb, err := s.Register(int(b.Fd()), RW, nil)
		require.NoError(t, err)
		assert.Equal(t, int(b.Fd()), kb.Fd)
		assert.Nil(t, kb.Data)
		assert.Equal(t, 2, s.Map().Len())
	})
}

func TestRegisterErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		a, _ := socketPair(t)

		for _, ev := range []selector.Events{0, 1 << 2, R | 1<<5, evsel.EventEdge, R | evsel.EventEdge} {
			_, err := s.Register(a, ev, nil)
			assert.ErrorIs(t, err, selector.ErrInvalidEvents, "events %#x", uint32(ev))
		}
		for _, f := range []any{nil, "a string", -1, 3.14, ^uintptr(0)} {
			_, err := s.Register(f, R, nil)
			assert.ErrorIs(t, err, selector.ErrInvalidFile, "file %#v", f)
		}
		closed, err := evsel.NewSocket(evsel.IPv4)
		require.NoError(t, err)
		require.NoError(t, closed.Close())
		_, err = s.Register(closed, R, nil)
		assert.ErrorIs(t, err, selector.ErrInvalidFile, "a closed socket has no descriptor")
		assert.Zero(t, s.Map().Len(), "failed registrations leave no key")

		_, err = s.Register(a, R, nil)
		require.NoError(t, err)
		_, err = s.Register(a, W, nil)
		assert.ErrorIs(t, err, selector.ErrAlreadyRegistered)
		// Keys are per descriptor, whatever object names it.
		_, err = s.Register(int(a.Fd()), W, nil)
		assert.ErrorIs(t, err, selector.ErrAlreadyRegistered)
		assert.Equal(t, 1, s.Map().Len())
	})
}

// TestRegisterPollerFailure: when the poller refuses a descriptor, the
// selector must not keep a key for it.
func TestRegisterPollerFailure(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s, cp := newCounting(t, backend)
		a, _ := socketPair(t)
		boom := errors.New("boom")

		cp.failNext = boom
		_, err := s.Register(a, R, nil)
		assert.ErrorIs(t, err, boom)
		assert.Zero(t, s.Map().Len())
		_, err = s.Key(a)
		assert.ErrorIs(t, err, selector.ErrNotRegistered)

		k, err := s.Register(a, R, "old")
		require.NoError(t, err, "the failed attempt left nothing behind")

		cp.failNext = boom
		_, err = s.Modify(a, W, "new")
		assert.ErrorIs(t, err, boom)
		assert.Equal(t, R, k.Events, "a failed Modify changes nothing")
		assert.Equal(t, "old", k.Data)
	})
}

func TestModify(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s, cp := newCounting(t, backend)
		a, b := socketPair(t)
		k, err := s.Register(a, R, "one")
		require.NoError(t, err)
		require.Equal(t, 1, cp.adds)
		assert.Zero(t, readyEvents(t, s, k), "nothing to read, and not watched for writing")

		// Events change: one call to the poller, and the new interest is
		// what gets reported.
		k2, err := s.Modify(a, W, "two")
		require.NoError(t, err)
		assert.Same(t, k, k2, "the key is updated in place")
		assert.Equal(t, W, k.Events)
		assert.Equal(t, "two", k.Data)
		assert.Equal(t, 1, cp.modifies)
		assert.Equal(t, W, readyEvents(t, s, k))

		// Only the data changes: the kernel is not asked at all.
		for i := range 10 {
			_, err = s.Modify(a, W, i)
			require.NoError(t, err)
		}
		assert.Equal(t, 1, cp.modifies, "Modify of the data alone must not reach the poller")
		assert.Equal(t, 9, k.Data)
		assert.Equal(t, W, readyEvents(t, s, k))

		_, err = b.Write([]byte("x"))
		require.NoError(t, err)
		_, err = s.Modify(a, RW, k.Data)
		require.NoError(t, err)
		assert.Equal(t, 2, cp.modifies)
		selectUntil(t, s, map[*selector.Key]selector.Events{k: RW})
		assert.Zero(t, cp.deletes)
	})
}

func TestModifyErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		a, b := socketPair(t)
		_, err := s.Modify(a, R, nil)
		assert.ErrorIs(t, err, selector.ErrNotRegistered)

		k, err := s.Register(a, R, "keep")
		require.NoError(t, err)
		for _, ev := range []selector.Events{0, 1 << 3, RW | evsel.EventEdge} {
			_, err = s.Modify(a, ev, "lost")
			assert.ErrorIs(t, err, selector.ErrInvalidEvents)
		}
		assert.Equal(t, R, k.Events)
		assert.Equal(t, "keep", k.Data)
		_, err = s.Modify("not a file", R, nil)
		assert.ErrorIs(t, err, selector.ErrInvalidFile)
		_, err = s.Modify(b, R, nil)
		assert.ErrorIs(t, err, selector.ErrNotRegistered)
	})
}

func TestUnregister(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s, cp := newCounting(t, backend)
		a, _ := socketPair(t)
		k, err := s.Register(a, W, "data")
		require.NoError(t, err)
		selectUntil(t, s, map[*selector.Key]selector.Events{k: W})

		got, err := s.Unregister(a)
		require.NoError(t, err)
		assert.Same(t, k, got)
		assert.Equal(t, "data", got.Data)
		assert.Equal(t, W, got.Events, "as in Python, the key keeps its events")
		assert.Equal(t, 1, cp.deletes)
		assert.Zero(t, s.Map().Len())
		_, err = s.Key(a)
		assert.ErrorIs(t, err, selector.ErrNotRegistered)

		ready, err := s.Select(0)
		require.NoError(t, err)
		assert.Empty(t, ready, "still writable, but no longer watched")

		_, err = s.Unregister(a)
		assert.ErrorIs(t, err, selector.ErrNotRegistered)
		_, err = s.Unregister(struct{}{})
		assert.ErrorIs(t, err, selector.ErrInvalidFile)

		// The descriptor can be registered again.
		_, err = s.Register(a, R, nil)
		require.NoError(t, err)
	})
}

// TestUnregisterAfterClose: as in Python, a file closed while registered can
// still be unregistered, whether it is named by its descriptor or by the
// object that no longer has one.
func TestUnregisterAfterClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)

		a, b := socketPair(t)
		ka, err := s.Register(a, R, nil)
		require.NoError(t, err)
		kb, err := s.Register(int(b.Fd()), W, nil)
		require.NoError(t, err)
		fdB := int(b.Fd())
		require.NoError(t, a.Close())
		require.NoError(t, b.Close())

		got, err := s.Unregister(a)
		require.NoError(t, err, "by the closed socket object")
		assert.Same(t, ka, got)
		got, err = s.Unregister(fdB)
		require.NoError(t, err, "by the stale descriptor number")
		assert.Same(t, kb, got)
		assert.Zero(t, s.Map().Len())

		// The same with Go's own connections.
		c, _ := netPair(t)
		kc, err := s.Register(c, R, nil)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		got, err = s.Unregister(c)
		require.NoError(t, err)
		assert.Same(t, kc, got)

		// Descriptors are recycled: a new socket on a number that was
		// closed while registered and then unregistered registers fine.
		x, _ := socketPair(t)
		_, err = s.Register(x, RW, nil)
		require.NoError(t, err)
		ready, err := s.Select(0)
		require.NoError(t, err)
		for _, r := range ready {
			assert.Same(t, x, r.Key.File, "only the live registration is reported")
		}
	})
}

func TestSelectTimeout(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		a, _ := socketPair(t)
		_, err := s.Register(a, R, nil)
		require.NoError(t, err)

		ready, err := s.Select(0)
		require.NoError(t, err)
		assert.Empty(t, ready)

		for _, timeout := range []time.Duration{50 * time.Millisecond, 1500 * time.Microsecond} {
			start := time.Now()
			ready, err = s.Select(timeout)
			elapsed := time.Since(start)
			require.NoError(t, err)
			assert.Empty(t, ready)
			assert.GreaterOrEqual(t, elapsed, timeout*8/10, "Select(%v) returned early", timeout)
		}

		// As Python's select(1e-9), which rounds up to the millisecond: a
		// timeout spent before the wait began must not turn into a poll.
		// (kqueue counts in nanoseconds, and waits just that.)
		for _, timeout := range []time.Duration{time.Nanosecond, 100 * time.Nanosecond} {
			if backend == "kqueue" {
				break
			}
			start := time.Now()
			_, err = s.Select(timeout)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, time.Since(start), 900*time.Microsecond, "Select(%v) polled", timeout)
		}

		// Negative polls, as in Python, so a deadline that has just
		// passed does not wait for ever. The Wake only ends a wrong wait.
		wake := time.AfterFunc(watchdog, func() { s.Wake() })
		defer wake.Stop()
		for _, timeout := range []time.Duration{-time.Nanosecond, time.Until(time.Now().Add(-time.Microsecond)), -time.Hour} {
			start := time.Now()
			_, err = s.Select(timeout)
			require.NoError(t, err)
			assert.Less(t, time.Since(start), watchdog/2, "Select(%v) waited", timeout)
		}
	})
}

// TestSelectWake: a Select without a timeout returns when another goroutine
// calls Wake, with nothing ready.
func TestSelectWake(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		a, _ := socketPair(t)
		_, err := s.Register(a, R, nil)
		require.NoError(t, err)
		for range 3 {
			woke := make(chan error)
			go func() {
				time.Sleep(10 * time.Millisecond) // most likely while Select blocks
				woke <- s.Wake()
			}()
			ready, err := s.Select(selector.Forever)
			require.NoError(t, err)
			assert.Empty(t, ready)
			require.NoError(t, <-woke)
		}
	})
}

// TestReadWrite covers the kinds of file object: evsel sockets, their raw
// descriptors, and Go's *net.TCPConn through syscall.Conn.
func TestReadWrite(t *testing.T) {
	type pair struct {
		rd, wr   any // what gets registered
		write    func([]byte) (int, error)
		read     func([]byte) (int, error)
		wantRdFd int
	}
	makers := map[string]func(t *testing.T) pair{
		"evsel socketpair": func(t *testing.T) pair {
			a, b := socketPair(t)
			return pair{rd: a, wr: b, write: b.Write, read: a.Read, wantRdFd: int(a.Fd())}
		},
		"evsel tcp": func(t *testing.T) pair {
			a, b := tcpPair(t)
			return pair{rd: a, wr: b, write: b.Write, read: a.Read, wantRdFd: int(a.Fd())}
		},
		"raw descriptors": func(t *testing.T) pair {
			a, b := tcpPair(t)
			return pair{rd: int(a.Fd()), wr: uintptr(b.Fd()), write: b.Write, read: a.Read, wantRdFd: int(a.Fd())}
		},
		"net.TCPConn": func(t *testing.T) pair {
			a, b := netPair(t)
			raw, err := a.SyscallConn()
			require.NoError(t, err)
			fd := -1
			require.NoError(t, raw.Control(func(d uintptr) { fd = int(d) }))
			return pair{rd: a, wr: b, write: b.Write, read: a.Read, wantRdFd: fd}
		},
	}
	eachBackend(t, func(t *testing.T, backend string) {
		for name, mk := range makers {
			t.Run(name, func(t *testing.T) {
				s := newSelector(t, backend)
				p := mk(t)
				rk, err := s.Register(p.rd, R, "reader")
				require.NoError(t, err)
				assert.Equal(t, p.wantRdFd, rk.Fd)
				wk, err := s.Register(p.wr, W, "writer")
				require.NoError(t, err)

				ready := selectUntil(t, s, map[*selector.Key]selector.Events{wk: W})
				for _, r := range ready {
					assert.NotSame(t, rk, r.Key, "nothing written yet")
				}

				_, err = p.write([]byte("hello"))
				require.NoError(t, err)
				ready = selectUntil(t, s, map[*selector.Key]selector.Events{rk: R, wk: W})
				for _, r := range ready {
					switch r.Key {
					case rk:
						assert.Equal(t, R, r.Events)
						assert.Equal(t, "reader", r.Key.Data)
					case wk:
						assert.Equal(t, W, r.Events)
					}
				}
				buf := make([]byte, 16)
				n, err := p.read(buf)
				require.NoError(t, err)
				assert.Equal(t, "hello", string(buf[:n]))

				_, err = s.Unregister(p.rd)
				require.NoError(t, err)
				_, err = s.Unregister(p.wr)
				require.NoError(t, err)
			})
		}
	})
}

// TestPeerClosed: the end of stream is readable, and the read says io.EOF.
func TestPeerClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		for name, mk := range map[string]func(testing.TB) (*evsel.Socket, *evsel.Socket){"socketpair": socketPair, "tcp": tcpPair} {
			t.Run(name, func(t *testing.T) {
				s := newSelector(t, backend)
				a, b := mk(t)
				k, err := s.Register(a, R, nil)
				require.NoError(t, err)
				_, err = b.Write([]byte("last words"))
				require.NoError(t, err)
				require.NoError(t, b.Close())

				selectUntil(t, s, map[*selector.Key]selector.Events{k: R})
				buf := make([]byte, 64)
				var got []byte
				for {
					n, err := a.Read(buf)
					if err == evsel.ErrWouldBlock {
						selectUntil(t, s, map[*selector.Key]selector.Events{k: R})
						continue
					}
					if err != nil {
						assert.ErrorIs(t, err, io.EOF)
						break
					}
					got = append(got, buf[:n]...)
				}
				assert.Equal(t, "last words", string(got))
				// End of stream stays readable.
				assert.Equal(t, R, readyEvents(t, s, k))
			})
		}
	})
}

// TestPeerReset: a connection reset by the peer is readable, and the read
// returns ECONNRESET.
func TestPeerReset(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		a, b := tcpPair(t)
		k, err := s.Register(a, R, nil)
		require.NoError(t, err)
		require.NoError(t, b.SetLinger(0))
		require.NoError(t, b.Close())

		selectUntil(t, s, map[*selector.Key]selector.Events{k: R})
		_, err = a.Read(make([]byte, 16))
		if err == io.EOF && runtime.GOOS == "windows" {
			// Windows says WSAECONNRESET; Wine 8 takes the error for itself.
			t.Skip("the reset was read as end of file (Wine)")
		}
		assert.ErrorIs(t, err, syscall.ECONNRESET)
	})
}

// readyPairs registers n socket pairs for reading and writing with the
// pair's index as data, makes every one readable, and returns their keys.
func readyPairs(t *testing.T, s *selector.Selector, n int) []*selector.Key {
	t.Helper()
	keys := make([]*selector.Key, n)
	want := map[*selector.Key]selector.Events{}
	for i := range keys {
		a, b := socketPair(t)
		k, err := s.Register(a, RW, i)
		require.NoError(t, err)
		_, err = b.Write([]byte("x"))
		require.NoError(t, err)
		keys[i] = k
		want[k] = RW
	}
	selectUntil(t, s, want)
	return keys
}

// TestUnregisterDuringBatch: a handler that unregisters another key of the
// current batch must find that key's events zeroed, so it never touches a
// descriptor it gave up.
func TestUnregisterDuringBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		keys := readyPairs(t, s, 4)
		ready, err := s.Select(0)
		require.NoError(t, err)
		require.Len(t, ready, 4)

		handled := 0
		for i, r := range ready {
			if r.Events == 0 {
				continue
			}
			handled++
			assert.Equal(t, RW, r.Events)
			if i == 0 {
				// The first handler drops two keys that come later.
				_, err := s.Unregister(ready[2].Key.File)
				require.NoError(t, err)
				_, err = s.Unregister(ready[3].Key.File)
				require.NoError(t, err)
			}
		}
		assert.Equal(t, 2, handled)
		assert.Zero(t, ready[2].Events)
		assert.Zero(t, ready[3].Events)
		assert.Equal(t, RW, ready[1].Events, "untouched keys keep their events")

		ready, err = s.Select(0)
		require.NoError(t, err)
		assert.Len(t, ready, 2, "unregistered keys are not reported again")
		assert.Len(t, keys, 4)
	})
}

// TestModifyDuringBatch: a handler that changes another key's interest set
// finds its batch entry narrowed to the new interest; changing only data
// leaves the entry alone.
func TestModifyDuringBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		readyPairs(t, s, 3)
		ready, err := s.Select(0)
		require.NoError(t, err)
		require.Len(t, ready, 3)

		_, err = s.Modify(ready[1].Key.File, W, "write only")
		require.NoError(t, err)
		_, err = s.Modify(ready[2].Key.File, RW, "same events")
		require.NoError(t, err)
		assert.Equal(t, RW, ready[0].Events)
		assert.Equal(t, W, ready[1].Events)
		assert.Equal(t, "write only", ready[1].Key.Data)
		assert.Equal(t, RW, ready[2].Events)
		assert.Equal(t, "same events", ready[2].Key.Data)
	})
}

func TestMap(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		m := s.Map()
		assert.Zero(t, m.Len())
		assert.Empty(t, slices.Collect(m.All()))

		var socks []*evsel.Socket
		var keys []*selector.Key
		for i := range 3 {
			a, _ := socketPair(t)
			k, err := s.Register(a, R, i)
			require.NoError(t, err)
			socks = append(socks, a)
			keys = append(keys, k)
		}
		assert.Equal(t, 3, m.Len(), "the view follows later registrations")
		for i, a := range socks {
			k, ok := m.Get(a)
			require.True(t, ok)
			assert.Same(t, keys[i], k)
			k, ok = m.Get(int(a.Fd()))
			require.True(t, ok, "found by descriptor too")
			assert.Same(t, keys[i], k)
		}
		other, _ := socketPair(t)
		k, ok := m.Get(other)
		assert.False(t, ok)
		assert.Nil(t, k)
		_, ok = m.Get("junk")
		assert.False(t, ok)

		all := slices.Collect(m.All())
		assert.ElementsMatch(t, keys, all)
		assert.True(t, slices.IsSortedFunc(all, func(a, b *selector.Key) int { return a.Fd - b.Fd }),
			"keys come in descriptor order")
		for k := range m.All() {
			assert.Same(t, all[0], k)
			break // stopping early is fine
		}

		// Unregistering while iterating, as a shutdown loop does.
		for k := range m.All() {
			_, err := s.Unregister(k.File)
			require.NoError(t, err)
		}
		assert.Zero(t, m.Len())
		assert.Empty(t, slices.Collect(m.All()))
	})
}

// TestManyDescriptors registers 5,000 socket pairs (10,000 descriptors, far
// past select(2)'s FD_SETSIZE) and checks every one is reported: all of them
// writable at once, with readiness left unconsumed so only fair batching
// gets through them; then every reader readable once.
func TestManyDescriptors(t *testing.T) {
	const pairs = 5000
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		readers := make([]*evsel.Socket, pairs)
		writers := make([]*evsel.Socket, pairs)
		for i := range pairs {
			readers[i], writers[i] = socketPair(t)
			_, err := s.Register(readers[i], W, i)
			require.NoError(t, err)
			_, err = s.Register(writers[i], W, pairs+i)
			require.NoError(t, err)
		}
		require.Equal(t, 2*pairs, s.Map().Len())

		collect := func(total int, consume func(selector.Ready)) {
			t.Helper()
			seen := make([]bool, 2*pairs)
			left := total
			maxRounds := 2*(total+selector.DefaultBatch-1)/selector.DefaultBatch + 2
			for round := 0; left > 0; round++ {
				require.Less(t, round, maxRounds, "%d descriptors never reported", left)
				ready, err := s.Select(watchdog)
				require.NoError(t, err)
				require.NotEmpty(t, ready)
				require.LessOrEqual(t, len(ready), selector.DefaultBatch)
				for _, r := range ready {
					i := r.Key.Data.(int)
					if !seen[i] {
						seen[i] = true
						left--
					}
					if consume != nil {
						consume(r)
					}
				}
			}
		}
		collect(2*pairs, nil)

		for i := range pairs {
			_, err := s.Unregister(writers[i])
			require.NoError(t, err)
			_, err = s.Modify(readers[i], R, i)
			require.NoError(t, err)
			_, err = writers[i].Write([]byte{byte(i)})
			require.NoError(t, err)
		}
		buf := make([]byte, 4)
		collect(pairs, func(r selector.Ready) {
			i := r.Key.Data.(int)
			require.Equal(t, R, r.Events)
			n, err := readers[i].Read(buf)
			require.NoError(t, err, "reported readable twice")
			require.Equal(t, []byte{byte(i)}, buf[:n])
		})
		ready, err := s.Select(0)
		require.NoError(t, err)
		assert.Empty(t, ready, "everything was read")
	})
}

func TestUseAfterClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s, err := selector.NewBackend(backend)
		require.NoError(t, err)
		a, b := socketPair(t)
		k, err := s.Register(a, R, nil)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		assert.NoError(t, s.Close(), "closing twice is harmless")

		_, err = s.Register(b, R, nil)
		assert.ErrorIs(t, err, selector.ErrClosed)
		_, err = s.Modify(a, W, nil)
		assert.ErrorIs(t, err, selector.ErrClosed)
		_, err = s.Unregister(a)
		assert.ErrorIs(t, err, selector.ErrClosed)
		_, err = s.Key(a)
		assert.ErrorIs(t, err, selector.ErrClosed)
		_, err = s.Select(0)
		assert.ErrorIs(t, err, selector.ErrClosed)
		assert.ErrorIs(t, s.Wake(), selector.ErrClosed)

		m := s.Map()
		assert.Zero(t, m.Len())
		_, ok := m.Get(a)
		assert.False(t, ok)
		assert.Empty(t, slices.Collect(m.All()))
		assert.Equal(t, R, k.Events, "keys handed out earlier are left alone")

		// The registered file was not closed.
		_, err = b.Write([]byte("x"))
		require.NoError(t, err)
		n, err := a.Read(make([]byte, 4))
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	})
}

// TestSelectAllocs: Select in steady state allocates nothing, whatever the
// backend. Allocation counts are deterministic, unlike timings.
func TestSelectAllocs(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		readyPairs(t, s, 16)
		for range 100 {
			a, _ := socketPair(t)
			_, err := s.Register(a, R, nil)
			require.NoError(t, err)
		}
		var failed error
		reported := 0
		allocs := testing.AllocsPerRun(200, func() {
			ready, err := s.Select(0)
			if err != nil {
				failed = err
			}
			reported = len(ready)
		})
		require.NoError(t, failed)
		assert.Equal(t, 16, reported)
		assert.Zero(t, allocs, "allocations per Select")
	})
}

// fakePoller is a poller with no kernel behind it: it accepts any
// descriptor and reports what the test scripts. It reaches the selector's
// paths that real descriptors on this machine cannot, such as descriptors
// above the direct table.
type fakePoller struct {
	interest map[int]evsel.Events
	next     []evsel.Event
	closed   bool
}

func (p *fakePoller) Add(fd int, ev evsel.Events) error {
	if _, ok := p.interest[fd]; ok {
		return evsel.ErrAlreadyRegistered
	}
	p.interest[fd] = ev
	return nil
}

func (p *fakePoller) Modify(fd int, ev evsel.Events) error {
	if _, ok := p.interest[fd]; !ok {
		return evsel.ErrNotRegistered
	}
	p.interest[fd] = ev
	return nil
}

func (p *fakePoller) Delete(fd int) error {
	if _, ok := p.interest[fd]; !ok {
		return evsel.ErrNotRegistered
	}
	delete(p.interest, fd)
	return nil
}

func (p *fakePoller) Wait(events []evsel.Event, _ time.Duration) (int, error) {
	n := copy(events, p.next)
	p.next = p.next[n:]
	return n, nil
}

func (p *fakePoller) Wake() error {
	if p.closed {
		return evsel.ErrClosed
	}
	return nil
}

func (p *fakePoller) Close() error {
	p.closed = true
	return nil
}

func (p *fakePoller) Name() string { return "fake" }

func TestLargeDescriptors(t *testing.T) {
	fp := &fakePoller{interest: map[int]evsel.Events{}}
	s, err := selector.NewWithPoller(fp)
	require.NoError(t, err)
	assert.Equal(t, "fake", s.Backend())

	fds := []int{3, 70000, 1 << 20, 65535, 65536, 200000, 100000, 300000}
	for _, fd := range fds {
		_, err := s.Register(fd, R, fd)
		require.NoError(t, err)
	}
	assert.Equal(t, len(fds), s.Map().Len())
	_, err = s.Register(uintptr(70000), R, nil)
	assert.ErrorIs(t, err, selector.ErrAlreadyRegistered)
	k, ok := s.Map().Get(1 << 20)
	require.True(t, ok)
	assert.Equal(t, 1<<20, k.Data)

	// Reports for unknown descriptors and for events outside the interest
	// set are dropped.
	fp.next = []evsel.Event{{Fd: 70000, Events: evsel.EventReadWrite}, {Fd: 99, Events: R}, {Fd: 65536, Events: W}, {Fd: 3, Events: R}}
	ready, err := s.Select(selector.Forever)
	require.NoError(t, err)
	require.Len(t, ready, 2)
	assert.Equal(t, 70000, ready[0].Key.Fd)
	assert.Equal(t, R, ready[0].Events)
	assert.Equal(t, 3, ready[1].Key.Fd)

	for range 3 { // a map's order would differ between rounds
		var all []int
		for k := range s.Map().All() {
			all = append(all, k.Fd)
		}
		assert.ElementsMatch(t, fds, all)
		assert.True(t, slices.IsSorted(all), "not in descriptor order: %v", all)
	}

	for _, fd := range fds {
		_, err := s.Unregister(fd)
		require.NoError(t, err)
	}
	assert.Zero(t, s.Map().Len())
	assert.Empty(t, fp.interest)
	require.NoError(t, s.Close())
	assert.True(t, fp.closed)
	assert.ErrorIs(t, s.Wake(), selector.ErrClosed)
}

// TestDescriptorOutOfRange: a number no C int holds is refused, as Python
// refuses it (OverflowError), and not truncated into another descriptor.
func TestDescriptorOutOfRange(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		if strconv.IntSize == 32 {
			t.Skip("no int holds a number past a C int here")
		}
		s := newSelector(t, backend)
		a, b := socketPair(t)
		shift := 32 // not a constant, which would not compile where int has 32 bits
		_, err := s.Register(int(a.Fd())+1<<shift, R, nil)
		assert.ErrorIs(t, err, selector.ErrInvalidFile)
		assert.Zero(t, s.Map().Len())
		k, err := s.Register(a, R, nil)
		require.NoError(t, err, "the descriptor itself is free")
		_, err = b.Write([]byte("x"))
		require.NoError(t, err)
		ready := selectUntil(t, s, map[*selector.Key]selector.Events{k: R})
		assert.Len(t, ready, 1, "reported once")
	})
}

// TestRegisterNilSocket: a nil *evsel.Socket is an invalid file object,
// like a nil *os.File, not a panic.
func TestRegisterNilSocket(t *testing.T) {
	s := newSelector(t, selector.Backends()[0])
	var nilSocket *evsel.Socket
	_, err := s.Register(nilSocket, R, nil)
	assert.ErrorIs(t, err, selector.ErrInvalidFile)
	_, err = s.Key(nilSocket)
	assert.ErrorIs(t, err, selector.ErrInvalidFile)
}

// TestRegisterClosedWhileRegistered: registering again a file object that
// was closed while registered finds its key by identity, as Python's
// _fileobj_lookup does: already registered, not an invalid file.
func TestRegisterClosedWhileRegistered(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		a, _ := socketPair(t)
		_, err := s.Register(a, R, nil)
		require.NoError(t, err)
		require.NoError(t, a.Close())
		_, err = s.Register(a, R, nil)
		assert.ErrorIs(t, err, selector.ErrAlreadyRegistered)
		_, err = s.Unregister(a)
		require.NoError(t, err)
		_, err = s.Register(a, R, nil)
		assert.ErrorIs(t, err, selector.ErrInvalidFile, "unregistered and closed")
	})
}
