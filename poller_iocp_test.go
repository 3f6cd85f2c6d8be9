//go:build windows

package evsel

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// Tests of what is particular to the IOCP/AFD backend: its bookkeeping of
// outstanding polls (cancellation, freeing after Delete, local close), its
// wake-ups, its batching and its allocation-free Wait. The behaviour every
// backend shares is tested by the portable suites.

func newIOCP(t *testing.T) *iocpPoller {
	t.Helper()
	p, err := newIOCPPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.(*iocpPoller)
}

func pair(t *testing.T) (*Socket, *Socket) {
	t.Helper()
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// waitFor calls Wait until cond holds for the events seen, or fails after a
// few seconds. It returns every event seen.
func waitFor(t *testing.T, p *iocpPoller, what string, cond func([]Event) bool) []Event {
	t.Helper()
	var seen []Event
	evs := make([]Event, 64)
	end := time.Now().Add(5 * time.Second)
	for !cond(seen) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s; saw %v", what, seen)
		}
		n, err := p.Wait(evs, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, evs[:n]...)
	}
	return seen
}

func has(fd int, ev Events) func([]Event) bool {
	return func(seen []Event) bool {
		for _, e := range seen {
			if e.Fd == fd && e.Events&ev == ev {
				return true
			}
		}
		return false
	}
}

// quiet checks that a Wait of d reports nothing.
func quiet(t *testing.T, p *iocpPoller, d time.Duration) {
	t.Helper()
	evs := make([]Event, 8)
	n, err := p.Wait(evs, d)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("expected no event, got %v", evs[:n])
	}
}

func TestIOCPLevelTriggered(t *testing.T) {
	p := newIOCP(t)
	a, b := pair(t)
	fd := int(a.Fd())
	if err := p.Add(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	quiet(t, p, 30*time.Millisecond)
	if _, err := b.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "readable", has(fd, EventRead))
	// Not read yet: the re-armed poll reports it again.
	waitFor(t, p, "still readable", has(fd, EventRead))
	buf := make([]byte, 16)
	if n, err := a.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	quiet(t, p, 30*time.Millisecond)
}

func TestIOCPModifyCancelsPendingPoll(t *testing.T) {
	p := newIOCP(t)
	a, _ := pair(t)
	fd := int(a.Fd())
	if err := p.Add(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	quiet(t, p, 0) // submits a poll for reading, which stays pending
	s := p.socks[fd]
	first := s.cur
	if first == nil {
		t.Fatal("no poll outstanding after the first Wait")
	}
	// A narrower interest keeps the pending poll.
	if err := p.Modify(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	quiet(t, p, 0)
	if s.cur != first || len(p.stale) != 0 {
		t.Fatal("a poll that covers the interest set was replaced")
	}
	// Writing is not covered by the pending poll: it must be cancelled and
	// a new one submitted, whose completion reports the socket writable.
	if err := p.Modify(fd, EventWrite); err != nil {
		t.Fatal(err)
	}
	seen := waitFor(t, p, "writable", has(fd, EventWrite))
	waitFor(t, p, "the stale poll's completion", func([]Event) bool { return len(p.stale) == 0 })
	for _, e := range seen {
		if e.Events&EventRead != 0 {
			t.Fatalf("the cancelled read poll leaked an event: %v", seen)
		}
	}
	if p.socks[fd] != s {
		t.Fatal("socket state replaced")
	}
	// Back to reading, with nothing to read: silence.
	if err := p.Modify(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	quiet(t, p, 30*time.Millisecond)
	quiet(t, p, 30*time.Millisecond)
}

func TestIOCPDeleteFreesAfterCancellation(t *testing.T) {
	p := newIOCP(t)
	a, b := pair(t)
	fd := int(a.Fd())
	if err := p.Add(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	quiet(t, p, 0)
	if err := p.Delete(fd); err != nil {
		t.Fatal(err)
	}
	if len(p.stale) != 1 || p.stale[0].sock != nil {
		t.Fatalf("after Delete of a polled socket: stale = %v", p.stale)
	}
	if err := p.Delete(fd); err != ErrNotRegistered {
		t.Fatalf("second Delete = %v, want ErrNotRegistered", err)
	}
	// Data arriving after the Delete must not be reported.
	b.Write([]byte("x"))
	end := time.Now().Add(5 * time.Second)
	for len(p.stale) > 0 {
		if time.Now().After(end) {
			t.Fatal("the cancelled poll never completed")
		}
		quiet(t, p, 20*time.Millisecond)
	}
	// Registering again works, and sees the data.
	if err := p.Add(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "readable after re-Add", has(fd, EventRead))
}

func TestIOCPDeleteThenAddBeforeCompletion(t *testing.T) {
	p := newIOCP(t)
	a, b := pair(t)
	fd := int(a.Fd())
	p.Add(fd, EventRead)
	quiet(t, p, 0)
	p.Delete(fd)
	if err := p.Add(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	b.Write([]byte("x"))
	waitFor(t, p, "readable", has(fd, EventRead))
	waitFor(t, p, "old poll recycled", func([]Event) bool { return len(p.stale) == 0 })
}

func TestIOCPLocalClose(t *testing.T) {
	p := newIOCP(t)
	a, b := pair(t)
	fd := int(a.Fd())
	if err := p.Add(fd, EventRead|EventWrite); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "writable", has(fd, EventWrite))
	if err := p.Modify(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	quiet(t, p, 20*time.Millisecond) // a read poll is pending now
	// Closing without Delete: the poll completes with AFD_POLL_LOCAL_CLOSE
	// and the poller forgets the socket, reporting nothing.
	a.Close()
	b.Write([]byte("x"))
	seen := waitFor(t, p, "forgotten", func([]Event) bool { _, ok := p.socks[fd]; return !ok })
	for _, e := range seen {
		if e.Fd == fd {
			t.Fatalf("event for a closed socket: %v", seen)
		}
	}
	if err := p.Delete(fd); err != ErrNotRegistered {
		t.Fatalf("Delete after close = %v, want ErrNotRegistered", err)
	}
}

func TestIOCPClosedBeforeFirstPoll(t *testing.T) {
	p := newIOCP(t)
	a, b := pair(t)
	fd := int(a.Fd())
	if err := p.Add(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	a.Close() // before any Wait submitted its poll
	b.Write([]byte("x"))
	evs := make([]Event, 8)
	for i := 0; i < 3; i++ {
		n, err := p.Wait(evs, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs[:n] {
			if e.Fd == fd && e.Events&EventRead != 0 {
				// Acceptable as an error report, but then it must not loop.
				t.Logf("closed socket reported once: %v", e)
			}
		}
	}
	if _, ok := p.socks[fd]; ok && p.socks[fd].cur != nil {
		t.Fatalf("closed socket still polled: %+v", p.socks[fd])
	}
}

func TestIOCPWake(t *testing.T) {
	p := newIOCP(t)
	evs := make([]Event, 8)
	go func() {
		time.Sleep(30 * time.Millisecond)
		p.Wake()
	}()
	start := time.Now()
	n, err := p.Wait(evs, -1)
	if err != nil || n != 0 {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Wake did not interrupt Wait")
	}
	// Wakes before a Wait coalesce into one packet.
	for i := 0; i < 5; i++ {
		if err := p.Wake(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := p.Wait(evs, time.Second); err != nil || n != 0 {
		t.Fatalf("Wait after Wakes = %d, %v", n, err)
	}
	start = time.Now()
	if n, err := p.Wait(evs, 50*time.Millisecond); err != nil || n != 0 {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("a second wake-up packet was queued: Wait returned after %v", d)
	}
}

func TestIOCPManyCompletionsPerWait(t *testing.T) {
	p := newIOCP(t)
	const pairs = 40
	want := map[int]bool{}
	for i := 0; i < pairs; i++ {
		a, b := pair(t)
		if err := p.Add(int(a.Fd()), EventRead); err != nil {
			t.Fatal(err)
		}
		b.Write([]byte("x"))
		want[int(a.Fd())] = true
	}
	evs := make([]Event, 2*pairs)
	best := 0
	seen := map[int]bool{}
	end := time.Now().Add(10 * time.Second)
	for len(seen) < pairs && time.Now().Before(end) {
		n, err := p.Wait(evs, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		best = max(best, n)
		for _, e := range evs[:n] {
			if !want[e.Fd] || e.Events != EventRead {
				t.Fatalf("unexpected event %v", e)
			}
			seen[e.Fd] = true
		}
	}
	if len(seen) < pairs {
		t.Fatalf("saw %d of %d readable sockets", len(seen), pairs)
	}
	if best < 2 {
		t.Fatalf("at most %d completion per Wait", best)
	}
	// All still readable (nothing was read): one Wait gets them all.
	waitFor(t, p, "a full batch", func([]Event) bool {
		n, _ := p.Wait(evs, 50*time.Millisecond)
		return n == pairs
	})
	// A short events slice bounds what one Wait returns; the rest follow.
	short := make([]Event, 3)
	n, err := p.Wait(short, time.Second)
	if err != nil || n == 0 || n > 3 {
		t.Fatalf("Wait with 3 slots = %d, %v", n, err)
	}
}

func TestIOCPWaitDoesNotAllocate(t *testing.T) {
	p := newIOCP(t)
	a, b := pair(t)
	c, _ := pair(t)
	b.Write([]byte("x"))
	p.Add(int(a.Fd()), EventRead)
	p.Add(int(c.Fd()), EventWrite)
	evs := make([]Event, 16)
	for i := 0; i < 10; i++ { // warm up: buffers, queues, the lazy DLLs
		p.Wait(evs, 10*time.Millisecond)
	}
	p.Wake()
	p.Wait(evs, 0)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := p.Wait(evs, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		p.Wake()
	})
	if allocs != 0 {
		t.Fatalf("Wait allocates %v times per call", allocs)
	}
}

func TestIOCPErrorsAreReadiness(t *testing.T) {
	p := newIOCP(t)

	// A reset connection (AFD_POLL_ABORT) is reported for the interest set.
	a, b := pair(t)
	fd := int(a.Fd())
	p.Add(fd, EventWrite)
	waitFor(t, p, "writable", has(fd, EventWrite))
	p.Modify(fd, EventRead)
	b.SetLinger(0)
	b.Close()
	waitFor(t, p, "readable after reset", has(fd, EventRead))
	// Windows answers WSAECONNRESET; Wine 8 answers end of file, having
	// consumed the error itself. Either way the socket is done.
	if _, err := a.Read(make([]byte, 8)); err == nil || err == ErrWouldBlock {
		t.Fatalf("Read after reset = %v, want an error or EOF", err)
	}
	if _, err := a.Write([]byte("x")); err == nil || err == ErrWouldBlock {
		t.Fatalf("Write after reset = %v, want an error", err)
	}
	p.Delete(fd)

	// An orderly shutdown (AFD_POLL_DISCONNECT) is readable, then EOF.
	c, d := pair(t)
	fd = int(c.Fd())
	p.Add(fd, EventRead)
	quiet(t, p, 20*time.Millisecond)
	d.Shutdown(ShutWrite)
	waitFor(t, p, "readable after shutdown", has(fd, EventRead))
	if _, err := c.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("Read after shutdown = %v, want EOF", err)
	}
	p.Delete(fd)

	// A refused connect (AFD_POLL_CONNECT_FAIL) is writable, and
	// ConnectResult has the error.
	l, err := Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := l.LocalAddr()
	l.Close()
	s, err := NewSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Connect(addr); err != ErrInProgress {
		if err == nil {
			t.Skip("connect to a closed port succeeded")
		}
		if !errors.Is(err, windows.WSAECONNREFUSED) {
			t.Fatalf("Connect = %v, want ErrInProgress", err)
		}
		return
	}
	fd = int(s.Fd())
	p.Add(fd, EventWrite)
	waitFor(t, p, "connect failure", has(fd, EventWrite))
	if err := s.ConnectResult(); !errors.Is(err, windows.WSAECONNREFUSED) {
		t.Fatalf("ConnectResult = %v, want WSAECONNREFUSED", err)
	}
}

func TestIOCPAcceptAndConnect(t *testing.T) {
	p := newIOCP(t)
	l, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lfd := int(l.Fd())
	p.Add(lfd, EventRead)
	quiet(t, p, 20*time.Millisecond)
	addr, _ := l.LocalAddr()
	c, err := Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfd := int(c.Fd())
	p.Add(cfd, EventWrite)
	seen := waitFor(t, p, "accept and connect", func(seen []Event) bool {
		return has(lfd, EventRead)(seen) && has(cfd, EventWrite)(seen)
	})
	_ = seen
	if err := c.ConnectResult(); err != nil {
		t.Fatalf("ConnectResult = %v", err)
	}
	s, peer, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	local, _ := c.LocalAddr()
	if peer.String() != local.String() {
		t.Fatalf("accepted peer %v, connected from %v", peer, local)
	}
	if _, _, err := l.Accept(); err != ErrWouldBlock {
		t.Fatalf("second Accept = %v, want ErrWouldBlock", err)
	}
}

func TestIOCPRegistrationErrors(t *testing.T) {
	p := newIOCP(t)
	a, _ := pair(t)
	fd := int(a.Fd())
	if err := p.Add(fd, EventRead|EventEdge); err != ErrEdgeUnsupported {
		t.Fatalf("Add(edge) = %v", err)
	}
	if err := p.Add(fd, EventRead); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(fd, EventRead); err != ErrAlreadyRegistered {
		t.Fatalf("second Add = %v", err)
	}
	if err := p.Modify(fd+4, EventRead); err != ErrNotRegistered {
		t.Fatalf("Modify(unknown) = %v", err)
	}
	if err := p.Delete(fd + 4); err != ErrNotRegistered {
		t.Fatalf("Delete(unknown) = %v", err)
	}
	f, err := windows.CreateEvent(nil, 0, 0, nil) // a handle, not a socket
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(f)
	if err := p.Add(int(f), EventRead); err == nil {
		t.Fatal("Add of a non-socket handle succeeded")
	}
	quiet(t, p, 0) // leaves a pending poll for Close to cancel
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != ErrClosed {
		t.Fatalf("second Close = %v", err)
	}
	if err := p.Wake(); err != ErrClosed {
		t.Fatalf("Wake after Close = %v", err)
	}
	if _, err := p.Wait(make([]Event, 1), 0); err != ErrClosed {
		t.Fatalf("Wait after Close = %v", err)
	}
}

func TestWindowsSocketSpecifics(t *testing.T) {
	s, err := NewSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetReusePort(true); !errors.Is(err, windows.WSAEOPNOTSUPP) {
		t.Fatalf("SetReusePort(true) = %v, want WSAEOPNOTSUPP", err)
	}
	if err := s.SetReuseAddr(true); err != nil {
		t.Fatal(err)
	}
	// SO_REUSEADDR must not have been set: Windows' meaning is port theft.
	if v, err := windows.GetsockoptInt(windows.Handle(s.Fd()), windows.SOL_SOCKET, windows.SO_REUSEADDR); err != nil || v != 0 {
		t.Fatalf("SO_REUSEADDR = %d, %v; want 0", v, err)
	}
	// A listener refuses a second bind of its port.
	l, err := Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr, _ := l.LocalAddr()
	if _, err := Listen("tcp4", addr.String()); !errors.Is(err, windows.WSAEADDRINUSE) {
		t.Fatalf("second Listen on %v = %v, want WSAEADDRINUSE", addr, err)
	}
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if a.Family() != IPv4 || b.Family() != IPv4 {
		t.Fatalf("Socketpair families %v %v", a.Family(), b.Family())
	}
	ra, _ := a.RemoteAddr()
	lb, _ := b.LocalAddr()
	if ra.(*net.TCPAddr).String() != lb.String() {
		t.Fatalf("pair not connected to each other: %v vs %v", ra, lb)
	}
	n, err := a.Writev([][]byte{[]byte("ab"), nil, []byte("cd")})
	if err != nil || n != 4 {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	buf := make([]byte, 8)
	got := ""
	for end := time.Now().Add(5 * time.Second); len(got) < 4 && time.Now().Before(end); {
		n, err := b.Read(buf)
		if err == ErrWouldBlock {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	if got != "abcd" {
		t.Fatalf("read %q", got)
	}
	if _, err := b.Read(buf); err != ErrWouldBlock {
		t.Fatalf("Read of an empty socket = %v, want ErrWouldBlock", err)
	}
	b.Shutdown(ShutRead)
	if _, err := b.Read(buf); err != io.EOF {
		t.Fatalf("Read after ShutRead = %v, want EOF", err)
	}
}

// TestWindowsRebindAfterTimeWait backs SetReuseAddr's choice: Windows lets a
// restarted server bind its port while connections of the old one sit in
// TIME_WAIT without SO_REUSEADDR, so the default ListenConfig works unchanged.
func TestWindowsRebindAfterTimeWait(t *testing.T) {
	p := newIOCP(t)
	l, err := Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := l.LocalAddr()
	c, err := Dial("tcp4", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.Add(int(l.Fd()), EventRead)
	waitFor(t, p, "a connection to accept", has(int(l.Fd()), EventRead))
	p.Delete(int(l.Fd()))
	s, _, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // the server side closes first: its end goes to TIME_WAIT
	p.Add(int(c.Fd()), EventRead)
	waitFor(t, p, "the server's FIN", has(int(c.Fd()), EventRead))
	c.Close()
	l.Close()
	for _, lc := range []ListenConfig{{}, {NoReuseAddr: true}} {
		l2, err := lc.Listen("tcp4", addr.String())
		if err != nil {
			t.Fatalf("%+v: rebinding %v: %v", lc, addr, err)
		}
		l2.Close()
	}
	// SetReuseAddr(false) asks for the strict mode.
	x, err := NewSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.SetReuseAddr(false); err != nil {
		t.Fatal(err)
	}
	if v, err := windows.GetsockoptInt(windows.Handle(x.Fd()), windows.SOL_SOCKET, int(soExclusiveAddrUse)); err != nil || v != 1 {
		t.Fatalf("SO_EXCLUSIVEADDRUSE = %d, %v; want 1", v, err)
	}
}

// TestWindowsSocketIODoesNotAllocate: reads, writes and their
// WSAEWOULDBLOCK answers allocate nothing, like their unix counterparts.
func TestWindowsSocketIODoesNotAllocate(t *testing.T) {
	a, b := pair(t)
	msg := []byte("0123456789")
	bufs := [][]byte{msg[:4], msg[4:]}
	buf := make([]byte, 64)
	for range 3 { // warm up: the lazy DLL procedures, Writev's scratch
		a.Write(msg)
		a.Writev(bufs)
		time.Sleep(10 * time.Millisecond)
		b.Read(buf)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := b.Read(buf); err != ErrWouldBlock {
			t.Fatalf("Read of an empty socket = %v", err)
		}
		if n, err := a.Write(msg); err != nil || n != len(msg) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if n, err := a.Writev(bufs); err != nil || n != len(msg) {
			t.Fatalf("Writev = %d, %v", n, err)
		}
		for got := 0; got < 2*len(msg); {
			n, err := b.Read(buf)
			if err == ErrWouldBlock {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Fatalf("socket I/O allocates %v times per round", allocs)
	}
}
