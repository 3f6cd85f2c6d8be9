package loop

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testdriver"
)

// Tests of what only the completion driver does; the rest of the suite
// runs on it as a whole (see TestMain).

func needUring(t *testing.T) {
	t.Helper()
	if err := evsel.UringAvailable(uringRequired...); err != nil {
		t.Skip(err)
	}
}

// uringState reads the driver's record of descriptor fd on the loop.
func uringState(t *testing.T, l *Loop, fd int) uringFd {
	t.Helper()
	res := make(chan uringFd, 1)
	require.NoError(t, l.Do(func() { res <- *l.drv.(*uringDriver).fd(fd) }))
	return <-res
}

// TestUringAbortWithSendInFlight: a connection aborted while its send is
// stuck in the kernel (the peer reads nothing) keeps its descriptor until
// the cancelled send has completed, then closes it: the peer sees the
// connection end, and the driver has nothing left on the descriptor.
func TestUringAbortWithSendInFlight(t *testing.T) {
	needUring(t)
	conns := make(chan *Conn, 1)
	closed := make(chan error, 1)
	h := Funcs{
		Open:  func(c *Conn) { c.Write(make([]byte, 8<<20)); conns <- c },
		Close: func(c *Conn, err error) { closed <- err },
	}
	// Small socket buffers, so that the kernel cannot take the 8 MiB
	// whatever the system's defaults, and the send stays in flight.
	e, addr := start(t, h, Options{Loops: 1, Driver: DriverIOUring, SocketWriteBuffer: smallSendBuffer})
	require.Equal(t, DriverIOUring, e.Driver())
	peer := dialSmall(t, addr)
	c := <-conns
	l := e.Loops()[0]
	fd := -1
	waitFor(t, "a send in flight", func() bool {
		res := make(chan bool, 1)
		require.NoError(t, l.Do(func() {
			fd = c.fd()
			res <- c.flags&flagSending != 0
		}))
		return <-res
	})
	require.NoError(t, c.Do(func(c *Conn) { c.Abort(nil) }))
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose after Abort")
	}
	waitFor(t, "the cancelled send to end and the descriptor to close", func() bool {
		st := uringState(t, l, fd)
		return st.ops == 0 && !st.closing
	})
	// The peer drains what reached its side, then sees the end.
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.Copy(io.Discard, peer)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server's socket was never closed: %v", err)
}

// TestUringClosedListenerStaysClosed: once a listener is closed, as
// StopAccepting closes it, the driver has nothing in flight on its
// descriptor, so a socket that takes the number at once, before the loop
// submits again, belongs to its owner alone: closing it ends the stream
// for its peer.
func TestUringClosedListenerStaysClosed(t *testing.T) {
	needUring(t)
	e, _ := start(t, echo, Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	var (
		fd, own, peer = -1, -1, -1
		st            uringFd
		err           error
	)
	onLoop(t, l, func(d *uringDriver) {
		ln := l.listeners[0]
		fd = ln.fd
		ln.close()
		l.listeners = nil
		st = *d.fd(fd)
		var pair [2]int
		if pair, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
			own, peer = pair[0], pair[1]
			if pair[1] == fd {
				own, peer = pair[1], pair[0]
			}
		}
	})
	require.NoError(t, err)
	defer unix.Close(peer)
	assert.Zero(t, st.ops, "requests queued on the closed listener's descriptor")
	assert.False(t, st.closing)
	if own != fd {
		t.Logf("the socket pair did not take the listener's number %d: only the driver's record was checked", fd)
	}

	uringState(t, l, fd) // an iteration: anything queued is submitted
	require.NoError(t, unix.Close(own))
	require.NoError(t, unix.SetNonblock(peer, true))
	var b [1]byte
	n := -1
	waitFor(t, "the peer to see the end of the stream", func() bool {
		n, err = unix.Read(peer, b[:])
		return err != unix.EAGAIN
	})
	assert.NoError(t, err)
	assert.Zero(t, n)
}

// TestUringOutputBehindSendInFlight: the writes a handler makes while a
// sendmsg of the output queue is in flight go behind it without
// disturbing the bytes the kernel is reading: numbered frames written in
// pieces, several chunks each, arrive whole and in order.
func TestUringOutputBehindSendInFlight(t *testing.T) {
	needUring(t)
	const frames, size = 300, 40 << 10 // 40 KiB: three output chunks each, so sendmsg
	h := Funcs{Data: func(c *Conn) {
		for len(c.Inbound()) > 0 {
			n := int(c.Inbound()[0])
			c.Consume(1)
			frame := make([]byte, size)
			for i := range frame {
				frame[i] = byte(n + i)
			}
			for off := 0; off < size; off += 1000 {
				c.Write(frame[off:min(off+1000, size)])
			}
		}
	}}
	_, addr := start(t, h, Options{Loops: 1, Driver: DriverIOUring})
	peer := dial(t, addr)
	require.NoError(t, peer.SetDeadline(time.Now().Add(20*time.Second)))
	go func() {
		for n := range frames {
			peer.Write([]byte{byte(n)})
		}
	}()
	got := make([]byte, size)
	for n := range frames {
		_, err := io.ReadFull(peer, got)
		require.NoError(t, err)
		for i, b := range got {
			if b != byte(n+i) {
				t.Fatalf("frame %d byte %d: got %d, want %d", n, i, b, byte(n+i))
			}
		}
	}
}

// TestUringMultishotReceive: where the kernel bounds a multishot receive
// (evsel.Uring.RecvLimit), one receive serves a connection's messages
// until its limit, HighWater's room, is reached; elsewhere each message
// takes a receive of its own.
func TestUringMultishotReceive(t *testing.T) {
	needUring(t)
	e, addr := start(t, echo, Options{Loops: 1, Driver: DriverIOUring, HighWater: 64 << 10})
	l := e.Loops()[0]
	type state struct {
		armed               int
		multishot, hasLimit bool
		setup               uint32
	}
	read := func() state {
		res := make(chan state, 1)
		require.NoError(t, l.Do(func() {
			d := l.drv.(*uringDriver)
			res <- state{d.armed, d.multishot, d.r.RecvLimit(), d.r.SetupFlags()}
		}))
		return <-res
	}
	peer := dial(t, addr)
	roundTrip(t, peer, []byte("first")) // the receive is armed
	before := read()
	require.Equal(t, before.hasLimit && !testdriver.Basic, before.multishot)
	if testdriver.Basic {
		const deferTaskrun = 1 << 13 // IORING_SETUP_DEFER_TASKRUN
		require.Zero(t, before.setup&deferTaskrun, "setup flags %#x", before.setup)
	}
	const rounds = 200
	msg := make([]byte, 100)
	for range rounds {
		assert.Equal(t, msg, roundTrip(t, peer, msg))
	}
	after := read()
	if !before.multishot {
		assert.GreaterOrEqual(t, after.armed-before.armed, rounds)
		return
	}
	// 20,000 bytes echoed against a limit of 64 KiB: no new receive.
	assert.Zero(t, after.armed-before.armed)

	// Past the limit, the receive ends and the next one is armed.
	big := make([]byte, 256<<10)
	assert.Equal(t, big, roundTrip(t, peer, big))
	assert.GreaterOrEqual(t, read().armed-after.armed, 3, "256 KiB through receives limited to 64 KiB each")
}

// uringHasOptional reports whether the kernel has a feature the completion
// driver uses only where it exists (see testdriver.UringBasic), asking a
// throwaway ring.
func uringHasOptional() bool {
	r, err := evsel.NewUring(evsel.UringOptions{Entries: 2, NoSingleIssuer: true})
	if err != nil {
		return false
	}
	defer r.Close()
	if r.RecvLimit() {
		return true
	}
	br, err := r.NewIncBufRing(1, 1)
	if err != nil {
		return false
	}
	br.Close()
	return true
}

// TestUringInboundCapped: the bytes a receive delivered reach the handler
// with no spare capacity, since past them an incremental buffer is where
// the kernel's next receives write: a handler appending to Inbound() gets
// a copy rather than writing there.
func TestUringInboundCapped(t *testing.T) {
	needUring(t)
	var spare atomic.Int64 // the largest spare capacity a handler saw
	h := Funcs{Data: func(c *Conn) {
		in := c.Inbound()
		if s := int64(cap(in) - len(in)); s > spare.Load() {
			spare.Store(s)
		}
		c.Write(in)
		c.Consume(len(in))
	}}
	_, addr := start(t, h, Options{Loops: 1, Driver: DriverIOUring})
	peer := dial(t, addr)
	for range 50 {
		msg := []byte("capped")
		assert.Equal(t, msg, roundTrip(t, peer, msg))
	}
	assert.Zero(t, spare.Load())
}

// echoUntilBye echoes what a connection sends and closes it on "bye";
// it hands the first connection it opens to conns.
func echoUntilBye(conns chan<- *Conn) Funcs {
	return Funcs{
		Open: func(c *Conn) {
			select {
			case conns <- c:
			default:
			}
		},
		Data: func(c *Conn) {
			in := c.Inbound()
			if string(in) == "bye" {
				c.Close()
				return
			}
			c.Write(in)
			c.Consume(len(in))
		},
	}
}

// TestUringRegisteredFile: a connection's descriptor enters the ring's
// registered file table after uringInstallAfter sends, not before (a
// request or two does not pay for the system calls), and leaves it when
// the connection closes: the peer sees the end of the stream, which the
// table's reference would otherwise hold off.
func TestUringRegisteredFile(t *testing.T) {
	needUring(t)
	conns := make(chan *Conn, 1)
	e, addr := start(t, echoUntilBye(conns), Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	peer := dial(t, addr)
	require.NoError(t, peer.SetDeadline(time.Now().Add(10*time.Second)))
	c := <-conns
	fds := make(chan int, 1)
	require.NoError(t, l.Do(func() { fds <- c.fd() }))
	fd := <-fds
	installed := func() bool {
		res := make(chan bool, 1)
		require.NoError(t, l.Do(func() { res <- l.drv.(*uringDriver).r.Installed(fd) }))
		return <-res
	}
	sent := 0
	echo := func() {
		sent++
		msg := []byte{'m', byte(sent)}
		_, err := peer.Write(msg)
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(peer, got)
		require.NoError(t, err)
		require.Equal(t, msg, got)
	}
	for range uringInstallAfter - 1 {
		echo()
	}
	require.False(t, installed(), "installed after %d sends", sent)
	echo()
	if !installed() {
		t.Skip("the kernel has no sparse file table (Linux 5.19)")
	}
	for range 10 {
		echo()
	}
	require.True(t, installed())
	_, err := peer.Write([]byte("bye"))
	require.NoError(t, err)
	n, err := peer.Read(make([]byte, 1))
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF, "the server's close reached the peer")
	require.False(t, installed(), "removed at close")
}

// TestUringRefusedRemovalKeepsNumber: when the kernel refuses to take a
// closed connection's socket out of the registered file table, its
// descriptor stays open until the loop stops, so no later connection is
// given the number and served from the socket still in the slot; the loop
// goes on serving, and its stop closes the socket.
func TestUringRefusedRemovalKeepsNumber(t *testing.T) {
	needUring(t)
	conns := make(chan *Conn, 1)
	e, addr := start(t, echoUntilBye(conns), Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	echoOn := func(peer net.Conn, msg string) {
		t.Helper()
		require.Equal(t, msg, string(roundTrip(t, peer, []byte(msg))))
	}
	first := dial(t, addr)
	require.NoError(t, first.SetDeadline(time.Now().Add(10*time.Second)))
	c := <-conns
	for i := range uringInstallAfter + 2 {
		echoOn(first, fmt.Sprint("m", i))
	}
	fd, installed := -1, false
	onLoop(t, l, func(d *uringDriver) {
		fd, installed = c.fd(), d.r.Installed(c.fd())
		d.removeFile = func(int) error { return unix.ENOMEM }
	})
	if !installed {
		t.Skip("the kernel has no sparse file table (Linux 5.19)")
	}
	_, err := first.Write([]byte("bye"))
	require.NoError(t, err)
	waitFor(t, "the connection to close", func() bool { return e.Stats().Open == 0 })

	// Descriptors opened now do not get the number: it is still taken.
	var flags int
	flags, err = unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err, "descriptor %d was closed under its file table slot", fd)
	require.NotZero(t, flags&unix.FD_CLOEXEC)
	for i := range 3 {
		peer := dial(t, addr)
		require.NoError(t, peer.SetDeadline(time.Now().Add(10*time.Second)))
		echoOn(peer, fmt.Sprint("after ", i))
		peer.Close()
	}
	// The socket stays in the table until the loop stops; then the peer
	// sees the end of the stream.
	stop(t, e)
	n, err := first.Read(make([]byte, 1))
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF)
}

// onLoop runs fn on l and waits for it, failing the test after 5s rather
// than hanging it: a loop that is not woken never runs fn.
func onLoop(t *testing.T, l *Loop, fn func(d *uringDriver)) {
	t.Helper()
	done := make(chan struct{})
	require.NoError(t, l.Do(func() {
		defer close(done)
		fn(l.drv.(*uringDriver))
	}))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not run a task within 5s")
	}
}

// TestUringWakeRearmedAfterFailure: when the eventfd's poll ends (a
// cancel here; an overflowing completion queue ends it too) and the ring
// cannot take it again at once, the loop queues it before its next wait,
// so that an idle loop is still woken for a task.
func TestUringWakeRearmedAfterFailure(t *testing.T) {
	needUring(t)
	e, addr := start(t, echo, Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	onLoop(t, l, func(d *uringDriver) {
		d.failArm = 1
		require.NoError(t, d.r.PrepCancel(ud(kCancel, d.wakeFd), ud(kWake, d.wakeFd)))
	})
	// The cancel's completions come at once, and then the loop waits.
	time.Sleep(200 * time.Millisecond)
	var failArm int
	unarmed := true
	ran := make(chan struct{})
	require.NoError(t, l.Do(func() {
		d := l.drv.(*uringDriver)
		failArm, unarmed = d.failArm, d.unarmed
		close(ran)
	}))
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		// A connection's completion wakes the loop, so that the test
		// fails rather than hangs in Stop, which needs the wake too.
		dial(t, addr)
		t.Fatal("the idle loop was not woken for a task")
	}
	assert.Zero(t, failArm)
	assert.False(t, unarmed, "the poll was never queued again")
}

// TestUringListenerRearmedAfterFailure: a listener whose poll cannot be
// queued again after it served a connection is queued before the loop's
// next wait, and goes on accepting.
func TestUringListenerRearmedAfterFailure(t *testing.T) {
	needUring(t)
	e, addr := start(t, echo, Options{Loops: 1, Driver: DriverIOUring})
	l := e.Loops()[0]
	onLoop(t, l, func(d *uringDriver) { d.failArm = 1 })
	for i := range 3 {
		c := dial(t, addr)
		msg := []byte(fmt.Sprint("hello ", i))
		require.Equal(t, msg, roundTrip(t, c, msg))
	}
	onLoop(t, l, func(d *uringDriver) {
		assert.Zero(t, d.failArm)
		assert.Empty(t, d.relisten)
	})
}

// TestUringSendGivenBackWithEAGAIN: a send the kernel completes unsent
// with EAGAIN (it does, with small socket buffers, after retrying once)
// is not the connection's failure: the driver waits for room through the
// ring and sends the same bytes again. The completion is made here, as
// the kernel makes it, for a send that was never submitted, so that the
// test does not depend on the system's buffer sizes.
func TestUringSendGivenBackWithEAGAIN(t *testing.T) {
	needUring(t)
	conns := make(chan *Conn, 1)
	closed := make(chan error, 1)
	h := echo
	h.Open = func(c *Conn) { conns <- c }
	h.Close = func(c *Conn, err error) { closed <- err }
	e, addr := start(t, h, Options{Loops: 1, Driver: DriverIOUring})
	peer := dial(t, addr)
	c := <-conns
	want := []byte("given back, sent again")
	var fd int
	onLoop(t, e.Loops()[0], func(d *uringDriver) {
		c.Write(want)
		fd = c.fd()
		// As flush leaves a connection whose send is in flight.
		c.flags |= flagSending
		c.events |= evsel.EventWrite
		d.sent(fd, evsel.UringCQE{UserData: ud(kSend, fd), Res: -int32(unix.EAGAIN)})
		assert.NotZero(t, c.flags&flagSending, "nothing more may be sent before the socket has room")
		assert.Equal(t, 1, d.roomWaits)
	})
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(5*time.Second)))
	got := make([]byte, len(want))
	_, err := io.ReadFull(peer, got)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	select {
	case err := <-closed:
		t.Fatalf("the connection closed: %v", err)
	default:
	}
	waitFor(t, "the poll and the send to end", func() bool { return uringState(t, e.Loops()[0], fd).ops == 1 }) // the receive
	assert.Equal(t, "still served", string(roundTrip(t, peer, []byte("still served"))))
}
