package evsel_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// A TCP echo server driven only by the ring, as the completion driver will
// be: a multishot accept, a multishot receive per connection into a
// provided-buffer ring, and one send in flight per connection, straight
// from the buffer the kernel filled, which goes back to the ring when the
// send completes.

// user_data: the kind in the top byte, the descriptor below.
const (
	udAccept uint64 = 1 << 56
	udRecv   uint64 = 2 << 56
	udSend   uint64 = 3 << 56
	udClose  uint64 = 4 << 56
	udCancel uint64 = 5 << 56
	udKind   uint64 = 0xff << 56
)

type echoConn struct {
	fd       int
	queue    []echoChunk // received, not yet sent
	sending  bool
	rearm    bool // the receive ended for want of buffers
	eof      bool
	received int
}

type echoChunk struct {
	id       uint16
	off, end int
}

type echoServer struct {
	t      testing.TB
	r      *evsel.Uring
	br     *evsel.UringBufRing
	ln     *evsel.Socket
	conns  map[int]*echoConn
	free   int // buffers in the ring
	closed int // connections closed through the ring
	enobuf int // receives ended by ENOBUFS
}

const echoGroup = 3

func newEchoServer(t testing.TB, r *evsel.Uring, buffers, size int) *echoServer {
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	br, err := r.NewBufRing(echoGroup, buffers)
	require.NoError(t, err)
	for id := range buffers {
		br.Add(uint16(id), make([]byte, size))
	}
	s := &echoServer{t: t, r: r, br: br, ln: ln, conns: map[int]*echoConn{}, free: buffers}
	require.NoError(t, r.PrepAcceptMultishot(udAccept, int(ln.Fd())))
	return s
}

func (s *echoServer) addr() string {
	a, err := s.ln.LocalAddr()
	require.NoError(s.t, err)
	return a.String()
}

// serve runs iterations until done reports true or the watchdog fires.
func (s *echoServer) serve(done func() bool) {
	end := time.Now().Add(watchdog)
	for !done() {
		left := time.Until(end)
		require.Positive(s.t, left, "watchdog: echo server")
		require.NoError(s.t, s.r.SubmitAndWait(min(left, 50*time.Millisecond)))
		s.r.ForEachCQE(s.complete)
	}
}

func (s *echoServer) complete(c evsel.UringCQE) {
	t := s.t
	fd := int(c.UserData &^ udKind)
	switch c.UserData & udKind {
	case udAccept:
		if c.Err() == unix.ECANCELED { // stop
			return
		}
		require.NoError(t, c.Err())
		require.True(t, c.More(), "multishot accept ended")
		// Without TCP_NODELAY (which the engine sets too) the chunked echo
		// waits for the client's delayed acknowledgements.
		require.NoError(t, unix.SetsockoptInt(int(c.Res), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
		s.conns[int(c.Res)] = &echoConn{fd: int(c.Res)}
		require.NoError(t, s.r.PrepRecvMultishot(udRecv|uint64(c.Res), int(c.Res), echoGroup, 0))
	case udRecv:
		conn := s.conns[fd]
		switch {
		case c.Res > 0:
			id, ok := c.Buffer()
			require.True(t, ok, "a receive without a buffer")
			s.free--
			conn.queue = append(conn.queue, echoChunk{id: id, end: int(c.Res)})
			conn.received += int(c.Res)
			s.send(conn)
			if !c.More() {
				require.NoError(t, s.r.PrepRecvMultishot(udRecv|uint64(fd), fd, echoGroup, 0))
			}
		case c.Res == 0:
			conn.eof = true
			s.maybeClose(conn)
		case c.Err() == unix.ENOBUFS:
			s.enobuf++
			conn.rearm = true
			if s.free > 0 { // recycled since the kernel found the ring empty
				s.rearm()
			}
		default:
			t.Fatalf("receive on %d: %v", fd, c.Err())
		}
	case udSend:
		conn := s.conns[fd]
		require.NoError(t, c.Err())
		conn.sending = false
		ch := &conn.queue[0]
		ch.off += int(c.Res)
		if ch.off == ch.end {
			s.br.Recycle(ch.id)
			s.free++
			conn.queue = conn.queue[1:]
			s.rearm()
		}
		s.send(conn)
		s.maybeClose(conn)
	case udClose:
		require.NoError(t, c.Err())
		delete(s.conns, fd)
		s.closed++
	case udCancel:
	default:
		t.Fatalf("unexpected completion %+v", c)
	}
}

// send starts the connection's next send unless one is in flight.
func (s *echoServer) send(conn *echoConn) {
	if conn.sending || len(conn.queue) == 0 {
		return
	}
	ch := conn.queue[0]
	conn.sending = true
	require.NoError(s.t, s.r.PrepSend(udSend|uint64(conn.fd), conn.fd, s.br.Buffer(ch.id)[ch.off:ch.end]))
}

// rearm restarts the receives that ran out of buffers, now that one is back.
func (s *echoServer) rearm() {
	for _, conn := range s.conns {
		if conn.rearm && !conn.eof {
			conn.rearm = false
			require.NoError(s.t, s.r.PrepRecvMultishot(udRecv|uint64(conn.fd), conn.fd, echoGroup, 0))
		}
	}
}

func (s *echoServer) maybeClose(conn *echoConn) {
	if conn.eof && !conn.sending && len(conn.queue) == 0 {
		require.NoError(s.t, s.r.PrepClose(udClose|uint64(conn.fd), conn.fd))
		conn.sending = true // nothing more on it
	}
}

// stop cancels the accept and waits for every request to end.
func (s *echoServer) stop() {
	require.NoError(s.t, s.r.PrepCancel(udCancel, udAccept))
	s.serve(func() bool { return s.r.InFlight() == 0 })
}

// echoClient writes each message with Go's net and reads it back. It reads
// while it writes: a message larger than what the kernel's buffers and the
// server's ring hold between them (20 KB against 4 KiB socket buffers)
// would otherwise wait on an echo that waits on the client.
func echoClient(addr string, msgs [][]byte) error {
	c, err := net.DialTimeout("tcp", addr, watchdog)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(watchdog)); err != nil {
		return err
	}
	got := make([]byte, 0, 64<<10)
	for _, m := range msgs {
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(m)
			wrote <- err
		}()
		got = got[:len(m)]
		_, err := io.ReadFull(c, got)
		if werr := <-wrote; werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(got, m) {
			return fmt.Errorf("echoed %d bytes differ", len(m))
		}
	}
	return nil
}

func echoMessages(n, seed int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		m := make([]byte, 1+(i*977+seed*131)%20000)
		for j := range m {
			m[j] = byte(i + j + seed)
		}
		msgs[i] = m
	}
	return msgs
}

// TestUringEcho runs the echo server on a ring of the best setup tier and
// on one without SINGLE_ISSUER (COOP_TASKRUN, where completions are posted
// without being asked for and Submit may skip the system call).
func TestUringEcho(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts evsel.UringOptions
	}{
		{"best", evsel.UringOptions{Entries: 64}},
		{"NoSingleIssuer", evsel.UringOptions{Entries: 64, NoSingleIssuer: true}},
	} {
		t.Run(tc.name, func(t *testing.T) { testUringEcho(t, tc.opts) })
	}
}

func testUringEcho(t *testing.T, opts evsel.UringOptions) {
	r := newUring(t, opts)
	t.Logf("setup flags %#x", r.SetupFlags())
	// Few small buffers: receives run dry (ENOBUFS) and are re-armed as
	// sends hand buffers back.
	s := newEchoServer(t, r, 8, 2048)
	const clients = 4
	errs := make(chan error, clients)
	for i := range clients {
		go func() { errs <- echoClient(s.addr(), echoMessages(40, i)) }()
	}
	finished := 0
	s.serve(func() bool {
		for {
			select {
			case err := <-errs:
				require.NoError(t, err)
				finished++
				continue
			default:
			}
			return finished == clients && s.closed == clients
		}
	})
	s.stop()
	t.Logf("receives re-armed after ENOBUFS: %d", s.enobuf)
}

// TestUringRecvNoBuffers: a receive whose buffer ring runs dry ends with
// ENOBUFS, having filled the buffers in order, and a re-armed one takes the
// rest once the buffers are recycled.
func TestUringRecvNoBuffers(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	client, server := tcpPair(t)
	br, err := r.NewBufRing(9, 2)
	require.NoError(t, err)
	br.Add(0, make([]byte, 16))
	br.Add(1, make([]byte, 16))
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	writeAll(t, client, msg)

	var got []byte
	fd := int(server.Fd())
	var ids []uint16
	// recvUntil reaps the receive's completions until stop says so.
	recvUntil := func(stop func(evsel.UringCQE) bool) evsel.UringCQE {
		for {
			for _, c := range waitCQEs(t, r, 1) {
				if c.Res > 0 {
					id, ok := c.Buffer()
					require.True(t, ok)
					got = append(got, br.Buffer(id)[:c.Res]...)
					ids = append(ids, id)
				}
				if stop(c) {
					return c
				}
				require.True(t, c.More(), "the receive ended: %+v", c)
			}
		}
	}
	require.NoError(t, r.PrepRecvMultishot(1, fd, 9, 0))
	last := recvUntil(func(c evsel.UringCQE) bool { return !c.More() })
	require.ErrorIs(t, last.Err(), unix.ENOBUFS)
	require.Len(t, ids, 2)
	require.Equal(t, msg[:32], got)

	// Re-armed with the buffers back, it takes the rest and stays armed:
	// the ring runs dry only when data meets no buffer.
	for _, id := range ids {
		br.Recycle(id)
	}
	ids = nil
	require.NoError(t, r.PrepRecvMultishot(1, fd, 9, 0))
	recvUntil(func(evsel.UringCQE) bool { return len(got) == len(msg) })
	require.Equal(t, msg, got)

	// With a buffer back and the peer gone, the receive reports the end.
	br.Recycle(ids[0])
	require.NoError(t, client.Close())
	last = recvUntil(func(c evsel.UringCQE) bool { return !c.More() })
	require.Zero(t, last.Res)
	require.NoError(t, br.Close())
}

// TestUringRecvLimit: a multishot receive with a limit ends once it has
// taken that many bytes (the last receive may take one buffer more), and
// the rest waits in the socket; a kernel without the limit refuses the
// request instead of ignoring the limit.
func TestUringRecvLimit(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	client, server := tcpPair(t)
	fd := int(server.Fd())
	if !r.RecvLimit() {
		require.False(t, kernelAtLeast(t, 6, 17), "the probe missed the limit of a 6.17+ kernel")
		require.NoError(t, r.PrepRecvMultishot(1, fd, 9, 1500))
		c := waitCQEs(t, r, 1)[0]
		require.ErrorIs(t, c.Err(), unix.EINVAL)
		return
	}
	br, err := r.NewBufRing(9, 4)
	require.NoError(t, err)
	for id := range 4 {
		br.Add(uint16(id), make([]byte, 1000))
	}
	msg := make([]byte, 3000)
	for i := range msg {
		msg[i] = byte(i % 251)
	}
	writeAll(t, client, msg)

	// receive arms a multishot receive with limit and collects what its
	// completions bring until one says the request has ended.
	receive := func(limit uint32) []byte {
		require.NoError(t, r.PrepRecvMultishot(1, fd, 9, limit))
		var got []byte
		for done := false; !done; {
			for _, c := range waitCQEs(t, r, 1) {
				require.Positive(t, c.Res, "%+v", c)
				id, ok := c.Buffer()
				require.True(t, ok)
				got = append(got, br.Buffer(id)[:c.Res]...)
				br.Recycle(id)
				done = !c.More()
				require.True(t, done || len(got) < int(limit), "still armed past the limit: %+v", c)
			}
		}
		return got
	}

	// 1,500 bytes: the first receive leaves 500 to go, the second fills
	// its buffer and ends the request.
	require.Equal(t, msg[:2000], receive(1500))

	// The rest is still in the socket for the next request, or on its
	// way: with small socket buffers and a small MTU (4 KiB, 1280 bytes)
	// the kernel holds two of the message's three segments, and the last
	// comes in once the first receives made room.
	require.Equal(t, msg[2000:], receive(1000))
	require.NoError(t, br.Close())
}

// kernelAtLeast reports whether the running kernel's version is at least
// major.minor.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	var u unix.Utsname
	require.NoError(t, unix.Uname(&u))
	var ma, mi int
	_, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	require.NoError(t, err)
	return ma > major || ma == major && mi >= minor
}

func TestUringConnect(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	laddr, err := ln.LocalAddr()
	require.NoError(t, err)
	sa, err := evsel.NewUringSockaddr(laddr)
	require.NoError(t, err)

	s, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	cleanupClose(t, s)
	require.NoError(t, r.PrepConnect(1, int(s.Fd()), sa))
	require.NoError(t, r.PrepAcceptMultishot(2, int(ln.Fd())))
	var connected, accepted bool
	for !connected || !accepted {
		for _, c := range waitCQEs(t, r, 1) {
			require.NoError(t, c.Err())
			switch c.UserData {
			case 1:
				connected = true
			case 2:
				accepted = true
				require.NoError(t, unix.Close(int(c.Res)))
			}
		}
	}
	raddr, err := s.RemoteAddr()
	require.NoError(t, err)
	require.Equal(t, laddr.String(), raddr.String())

	// Refused: nobody listens on the port any more.
	require.NoError(t, r.PrepCancel(3, 2))
	got := waitCQEs(t, r, 2)
	require.NoError(t, ln.Close())
	s2, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	cleanupClose(t, s2)
	require.NoError(t, r.PrepConnect(4, int(s2.Fd()), sa))
	got = waitCQEs(t, r, 1)
	require.ErrorIs(t, got[0].Err(), unix.ECONNREFUSED)
}

func TestUringCancel(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	_, server := tcpPair(t)
	fd := int(server.Fd())
	buf := make([]byte, 16)

	// By user_data.
	require.NoError(t, r.PrepRecv(1, fd, buf))
	require.ErrorIs(t, r.PrepRecv(1, fd, buf), evsel.ErrUringBusy)
	require.NoError(t, r.Submit())
	require.NoError(t, r.PrepCancel(2, 1))
	byUD := map[uint64]evsel.UringCQE{}
	for _, c := range waitCQEs(t, r, 2) {
		byUD[c.UserData] = c
	}
	require.ErrorIs(t, byUD[1].Err(), unix.ECANCELED)
	require.Equal(t, int32(1), byUD[2].Res, "cancelled count")

	// Nothing under that user_data any more.
	require.NoError(t, r.PrepCancel(3, 1))
	require.Zero(t, waitCQEs(t, r, 1)[0].Res)

	// By descriptor: every request on it.
	require.NoError(t, r.PrepRecv(4, fd, buf))
	require.NoError(t, r.PrepPollMultishot(5, fd, unix.POLLIN))
	require.NoError(t, r.Submit())
	require.NoError(t, r.PrepCancelFd(6, fd))
	byUD = map[uint64]evsel.UringCQE{}
	for _, c := range waitCQEs(t, r, 3) {
		byUD[c.UserData] = c
	}
	require.ErrorIs(t, byUD[4].Err(), unix.ECANCELED)
	require.ErrorIs(t, byUD[5].Err(), unix.ECANCELED)
	require.Equal(t, int32(2), byUD[6].Res)
	require.Zero(t, r.InFlight())
}

func TestUringClose(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	before := fdCount(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, r.PrepClose(1, fd))
	require.NoError(t, waitCQEs(t, r, 1)[0].Err())
	require.Equal(t, before, fdCount(t))
	require.NoError(t, r.PrepClose(2, fd))
	require.ErrorIs(t, waitCQEs(t, r, 1)[0].Err(), unix.EBADF)
}

// TestUringWakeupPoll: a multishot poll on an eventfd completes once per
// wake-up from another goroutine, staying armed, as the loop's wake-up will.
func TestUringWakeupPoll(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(efd)
	require.NoError(t, r.PrepPollMultishot(1, efd, unix.POLLIN))
	require.NoError(t, r.Submit())
	var one [8]byte
	one[0] = 1
	for range 3 {
		go func() { unix.Write(efd, one[:]) }()
		c := waitCQEs(t, r, 1)[0]
		require.Equal(t, uint64(1), c.UserData)
		require.True(t, c.More(), "the poll ended: %+v", c)
		require.NotZero(t, c.Res&unix.POLLIN)
		var v [8]byte
		_, err := unix.Read(efd, v[:]) // reset the counter for the next wake-up
		require.NoError(t, err)
	}
	// Nothing written: nothing reported.
	require.NoError(t, r.SubmitAndWait(20*time.Millisecond))
	require.Zero(t, r.ForEachCQE(func(evsel.UringCQE) {}))
	require.NoError(t, r.PrepCancel(2, 1))
	waitCQEs(t, r, 2)
}

// TestUringCloseReapsInFlight: Close cancels an armed accept and receive,
// and closes a connection the accept delivered that nobody reaped.
func TestUringCloseReapsInFlight(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	before := fdCount(t)
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, server := tcpPair(t)
	require.NoError(t, r.PrepAcceptMultishot(1, int(ln.Fd())))
	require.NoError(t, r.PrepRecv(2, int(server.Fd()), make([]byte, 8)))
	require.NoError(t, r.Submit())
	laddr, err := ln.LocalAddr()
	require.NoError(t, err)
	c, err := net.Dial("tcp", laddr.String())
	require.NoError(t, err)
	require.NoError(t, r.SubmitAndWait(watchdog)) // the accept completes, unreaped
	require.Equal(t, 1, r.Ready())
	require.NoError(t, r.Close())
	require.NoError(t, c.Close())
	require.NoError(t, ln.Close())
	require.NoError(t, server.Close())
	// The ring's descriptor (counted in before) is gone, tcpPair's client
	// stays open until cleanup, and the accepted one was closed by Close.
	require.Equal(t, before, fdCount(t))
}

// TestUringSendmsg: a gathered send of three buffers arrives whole and in
// order; the msghdr is held (and its buffers with it) until it completes.
func TestUringSendmsg(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	client, server := tcpPair(t)
	parts := [][]byte{[]byte("hello, "), []byte("gathered "), []byte("world")}
	iov := make([]unix.Iovec, len(parts))
	for i, p := range parts {
		iov[i].Base = &p[0]
		iov[i].SetLen(len(p))
	}
	msg := &unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(len(iov))
	require.NoError(t, r.PrepSendmsg(1, int(server.Fd()), msg))
	require.ErrorIs(t, r.PrepSendmsg(1, int(server.Fd()), msg), evsel.ErrUringBusy)
	c := waitCQEs(t, r, 1)[0]
	require.Equal(t, int32(21), c.Res)
	require.Equal(t, "hello, gathered world", string(readFull(t, client, 21)))
}

// TestUringConnectUnixV6: the sockaddr layouts of the other families.
func TestUringConnectUnixV6(t *testing.T) {
	r := newUring(t, evsel.UringOptions{Entries: 8})
	cases := []struct {
		network, address string
		family           evsel.Family
	}{
		{"unix", t.TempDir() + "/s", evsel.Unix},
		{"unix", "@evsel-uring-test", evsel.Unix}, // abstract
		{"tcp6", "[::1]:0", evsel.IPv6},
	}
	for i, tc := range cases {
		ln, err := evsel.Listen(tc.network, tc.address)
		if tc.family == evsel.IPv6 && err != nil {
			t.Logf("no IPv6 loopback: %v", err)
			continue
		}
		require.NoError(t, err)
		cleanupClose(t, ln)
		laddr, err := ln.LocalAddr()
		require.NoError(t, err)
		sa, err := evsel.NewUringSockaddr(laddr)
		require.NoError(t, err)
		s, err := evsel.NewSocket(tc.family)
		require.NoError(t, err)
		cleanupClose(t, s)
		require.NoError(t, r.PrepConnect(uint64(i), int(s.Fd()), sa))
		require.NoError(t, waitCQEs(t, r, 1)[0].Err(), "%s %s", tc.network, laddr)
	}
}
