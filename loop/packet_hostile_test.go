package loop

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closingOnError closes its socket from OnPacketError, as a handler that
// gives up on the first error would.
type closingOnError struct {
	big    []byte
	errors atomic.Int32
	closed chan error
}

func (h *closingOnError) OnPacket(pc *PacketConn, data []byte, from PacketAddr) {
	pc.WriteTo(h.big, from) // longer than any UDP datagram: the send fails
	pc.WriteTo(data, from)
}

func (h *closingOnError) OnPacketError(pc *PacketConn, err error) {
	if h.errors.Add(1) > 1 {
		return // a second report would mean Close re-entered the failed send
	}
	h.closed <- pc.Close()
}

// TestPacketCloseFromErrorHandler: a handler that closes its socket when a
// queued datagram cannot be sent hears of the error once, the datagrams
// behind it still go, and the loop goes on serving.
func TestPacketCloseFromErrorHandler(t *testing.T) {
	h := &closingOnError{big: make([]byte, 70000), closed: make(chan error, 1)}
	e, addr := startPacket(t, "udp", "127.0.0.1:0", h, Options{Loops: 1})
	c := dialUDP(t, addr)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	select {
	case err := <-h.closed:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no send error")
	}
	// Close still sends what is queued behind the failed datagram.
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "x", string(buf[:n]))
	assert.Equal(t, int64(1), e.Stats().DatagramsDropped)
	assert.Equal(t, int32(1), h.errors.Load())
	// The loop still serves: a second socket on it echoes.
	addr2, err := e.ListenPacket("udp", "127.0.0.1:0", packetEcho)
	require.NoError(t, err)
	assert.Equal(t, "alive", string(udpExchange(t, dialUDP(t, addr2), []byte("alive"))))
}

// TestPacketHostileFloods: a flood of zero-length datagrams reaches the
// handler as empty datagrams, a flood of oversized ones is counted and
// dropped, and a well-behaved client is answered after both.
func TestPacketHostileFloods(t *testing.T) {
	var empty, other atomic.Int64
	e, addr := startPacket(t, "udp", "127.0.0.1:0", PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		if len(data) == 0 {
			empty.Add(1)
			return
		}
		other.Add(1)
		pc.WriteTo(data, from)
	}), Options{Loops: 1, DatagramSize: 512})
	flood := dialUDP(t, addr)
	const n = 2000
	big := bytes.Repeat([]byte("z"), 4096)
	for range n {
		flood.Write(nil)
		flood.Write(big)
	}
	// Loopback may drop some of a flood; what arrived is accounted for.
	waitFor(t, "the floods", func() bool {
		st := e.Stats()
		return st.DatagramsIn > 0 && st.DatagramsIn == empty.Load()+st.DatagramsTruncated
	})
	good := dialUDP(t, addr)
	assert.Equal(t, "good", string(udpExchange(t, good, []byte("good"))))
	st := e.Stats()
	assert.LessOrEqual(t, empty.Load(), int64(n))
	assert.LessOrEqual(t, st.DatagramsTruncated, int64(n))
	assert.Positive(t, st.DatagramsTruncated)
	assert.Zero(t, st.DatagramsDropped)
}

// TestPacketConnectedRefused: on a connected socket whose peer is gone,
// the ICMP port unreachable comes back as ECONNREFUSED through
// OnPacketError, and the socket keeps serving once a peer is there.
func TestPacketConnectedRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIO_UDP_CONNRESET is turned off on Windows")
	}
	gone, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	addr := gone.LocalAddr().(*net.UDPAddr)
	gone.Close()
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	errs := make(chan error, 64)
	got := make(chan string, 64)
	h := &packetErrFuncs{
		data: func(pc *PacketConn, data []byte, from PacketAddr) { got <- string(data) },
		err:  func(pc *PacketConn, err error) { errs <- err },
	}
	pc, err := e.DialPacket(context.Background(), "udp", addr.String(), h)
	require.NoError(t, err)
	defer pc.AsyncClose()
	deadline := time.After(10 * time.Second)
	for refused := false; !refused; {
		require.NoError(t, pc.AsyncWriteTo([]byte("anyone?"), PacketAddr{}))
		select {
		case err := <-errs:
			refused = errors.Is(err, syscall.ECONNREFUSED)
			require.True(t, refused, "error %v", err)
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no ECONNREFUSED")
		}
	}
	// The peer comes back on the same port.
	srv, err := net.ListenUDP("udp", addr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	defer srv.Close()
	for try := 0; ; try++ {
		require.NoError(t, pc.AsyncWriteTo([]byte("back"), PacketAddr{}))
		srv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 64)
		n, from, err := srv.ReadFromUDP(buf)
		if err == nil {
			assert.Equal(t, "back", string(buf[:n]))
			_, err = srv.WriteToUDP([]byte("welcome"), from)
			require.NoError(t, err)
			break
		}
		require.Less(t, try, 25, "the socket no longer sends")
	}
	select {
	case m := <-got:
		assert.Equal(t, "welcome", m)
	case <-time.After(10 * time.Second):
		t.Fatal("the socket no longer receives")
	}
}

type packetErrFuncs struct {
	data func(*PacketConn, []byte, PacketAddr)
	err  func(*PacketConn, error)
}

func (h *packetErrFuncs) OnPacket(pc *PacketConn, d []byte, from PacketAddr) { h.data(pc, d, from) }
func (h *packetErrFuncs) OnPacketError(pc *PacketConn, err error)            { h.err(pc, err) }

// TestPacketUnreadPeerAndStop: replies to a Unix datagram peer that never
// reads fill its queue, and the kernel then refuses more (EAGAIN, where
// UDP would drop them). The socket stays writable for every other peer,
// so waiting for WRITE would spin: the loop drops each refused reply,
// counts it and reports ErrReceiverFull, as UDP's kernel would drop it,
// and other peers' replies go. WriteTo past MaxPacketQueue within one
// callback is refused, and Stop leaves every reply sent or counted.
func TestPacketUnreadPeerAndStop(t *testing.T) {
	testenv.NeedShortUnixDgramQueue(t) // else see TestPacketPeerPinsSendBuffer
	dir := t.TempDir()
	const queue = 64
	results := make(chan error, 1024)
	var receiverFull atomic.Int64
	var served atomic.Pointer[PacketConn]
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog, MaxPacketQueue: queue})
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			stop(t, e)
		}
	}()
	srv := filepath.Join(dir, "srv")
	_, err = e.ListenPacket("unixgram", srv, &packetErrFuncs{
		data: func(pc *PacketConn, data []byte, from PacketAddr) {
			served.Store(pc)
			for range 200 {
				select {
				case results <- pc.WriteTo(bytes.Repeat([]byte("r"), 1024), from):
				default:
				}
			}
		},
		err: func(pc *PacketConn, err error) {
			if runtime.GOOS == "linux" { // the BSDs answer ENOBUFS
				assert.ErrorIs(t, err, evsel.ErrReceiverFull)
			}
			receiverFull.Add(1)
		},
	})
	require.NoError(t, err)
	to := &net.UnixAddr{Name: srv, Net: "unixgram"}
	cl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "cl"), Net: "unixgram"})
	require.NoError(t, err)
	defer cl.Close()
	// Never read by cl: three rounds of 200 replies are far more than its
	// receive queue holds.
	for range 3 {
		_, err = cl.WriteToUnix([]byte("go"), to)
		require.NoError(t, err)
	}
	waitFor(t, "the replies", func() bool { return len(results) == 600 })
	var sent, refused int
	for range 600 {
		if err := <-results; err == nil {
			sent++
		} else {
			require.ErrorIs(t, err, ErrDatagramDropped)
			refused++
		}
	}
	// The loop holds up to MaxPacketQueue between two flushes, which
	// may come after one, two or all three callbacks.
	assert.GreaterOrEqual(t, sent, queue)
	assert.Positive(t, refused, "the queue bound held nothing back")
	waitFor(t, "every reply sent or dropped", func() bool {
		st := e.Stats()
		return st.DatagramsOut+st.DatagramsDropped == 600
	})
	st := e.Stats()
	assert.Positive(t, st.DatagramsOut, "the peer's queue took none")
	assert.Positive(t, receiverFull.Load(), "the peer's queue never filled")
	assert.Equal(t, int64(refused)+receiverFull.Load(), st.DatagramsDropped)

	// Nothing is held for the peer: the socket does not wait for WRITE
	// (which it would be told of at once, for ever), and another peer is
	// answered.
	pc := served.Load()
	idle := make(chan bool, 1)
	require.NoError(t, pc.Loop().Do(func() { idle <- pc.head == len(pc.queue) && pc.events&evsel.EventWrite == 0 }))
	assert.True(t, <-idle, "replies to a peer that does not read are held")
	good, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "good"), Net: "unixgram"})
	require.NoError(t, err)
	defer good.Close()
	_, err = good.WriteToUnix([]byte("go"), to)
	require.NoError(t, err)
	require.NoError(t, good.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, _, err = good.ReadFromUnix(make([]byte, 2048))
	require.NoError(t, err, "another peer is not answered")

	waitFor(t, "its replies", func() bool { return len(results) == 200 })
	stop(t, e)
	stopped = true
	st = e.Stats()
	assert.Equal(t, int64(800), st.DatagramsOut+st.DatagramsDropped, "every reply sent or counted as dropped")
}

// TestPacketPeerPinsSendBuffer: a Unix datagram peer connected back to the
// server's socket has no queue limit, and the datagrams it does not read
// are charged to the server's send buffer until that is full: then the
// socket is not writable for anyone (evsel.ErrReceiverFull's limit). The
// loop holds the replies, waiting for WRITE without spinning, and once
// the peer closes they go, or are dropped and counted: none is lost
// unaccounted, and a waiting peer gets its answer.
func TestPacketPeerPinsSendBuffer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux's accounting of Unix datagrams")
	}
	dir := t.TempDir()
	var queued atomic.Int64
	var served atomic.Pointer[PacketConn]
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog, MaxPacketQueue: 1024})
	require.NoError(t, err)
	defer stop(t, e)
	srv := filepath.Join(dir, "srv")
	_, err = e.ListenPacket("unixgram", srv, PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		served.Store(pc)
		for range 400 {
			if pc.WriteTo(bytes.Repeat([]byte("r"), 1024), from) == nil {
				queued.Add(1)
			}
		}
	}))
	require.NoError(t, err)
	to := &net.UnixAddr{Name: srv, Net: "unixgram"}
	pin, err := net.DialUnix("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "pin"), Net: "unixgram"}, to)
	require.NoError(t, err)
	_, err = pin.Write([]byte("go"))
	require.NoError(t, err)

	type state struct {
		held  int
		write bool
	}
	look := func() state {
		pc := served.Load()
		got := make(chan state, 1)
		require.NoError(t, pc.Loop().Do(func() { got <- state{len(pc.queue) - pc.head, pc.events&evsel.EventWrite != 0} }))
		return <-got
	}
	waitFor(t, "the server's buffer to fill", func() bool { return served.Load() != nil && look().held > 0 })
	s := look()
	assert.True(t, s.write, "held replies without asking for WRITE")
	out := e.Stats().DatagramsOut
	assert.Positive(t, out)
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, out, e.Stats().DatagramsOut, "sent while the buffer was full")

	good, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "good"), Net: "unixgram"})
	require.NoError(t, err)
	_, err = good.WriteToUnix([]byte("go"), to)
	require.NoError(t, err)

	require.NoError(t, pin.Close()) // frees what its queue held of the server's buffer
	require.NoError(t, good.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, _, err = good.ReadFromUnix(make([]byte, 2048))
	require.NoError(t, err, "the waiting peer is not answered once the buffer is free")
	// It reads no more: its other replies are dropped once its queue is
	// full, or, where the queue is longer than the server's buffer takes,
	// once it closes.
	require.NoError(t, good.Close())
	waitFor(t, "every reply sent or dropped", func() bool {
		st := e.Stats()
		return st.DatagramsOut+st.DatagramsDropped == queued.Load() && look().held == 0
	})
	assert.False(t, look().write, "still asks for WRITE with nothing held")
}

// TestPacketRepliesToGonePeers: replies to senders whose ports have
// closed draw ICMP port unreachable; the listening socket, unconnected,
// keeps serving the others (on Windows this needs SIO_UDP_CONNRESET off).
func TestPacketRepliesToGonePeers(t *testing.T) {
	e, addr := startPacket(t, "udp", "127.0.0.1:0", packetEcho, Options{Loops: 1})
	for range 50 {
		c := dialUDP(t, addr)
		_, err := c.Write([]byte("gone"))
		require.NoError(t, err)
		c.Close()
	}
	waitFor(t, "the replies", func() bool { return e.Stats().DatagramsOut+e.Stats().DatagramsDropped >= 50 })
	assert.Equal(t, "here", string(udpExchange(t, dialUDP(t, addr), []byte("here"))))
}

// TestPacketCloseInOnPacket: a handler that closes its socket in the
// middle of a batch of datagrams stops being called, its later WriteTo
// says ErrClosed, and the port is let go of.
func TestPacketCloseInOnPacket(t *testing.T) {
	var calls atomic.Int32
	after := make(chan error, 1)
	e, addr := startPacket(t, "udp", "127.0.0.1:0", PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		if calls.Add(1) == 1 {
			pc.WriteTo(data, from) // queued, then dropped or sent by Close
			assert.NoError(t, pc.Close())
			after <- pc.WriteTo(data, from)
		}
	}), Options{Loops: 1})
	c := dialUDP(t, addr)
	for range 20 {
		c.Write([]byte("burst"))
	}
	select {
	case err := <-after:
		assert.ErrorIs(t, err, ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was not called")
	}
	waitFor(t, "the port to be free", func() bool { return bindUDP(addr.String()) == nil })
	assert.Equal(t, int32(1), calls.Load())
	st := e.Stats()
	assert.Equal(t, int64(1), st.DatagramsOut+st.DatagramsDropped)
}

// TestStreamWriteFromPacketError: OnPacketError runs as the loop flushes
// its datagrams, after it settled its connections. A stream write made
// there is settled before the loop waits (and on a readiness driver the
// stage is free again), not whenever something next wakes the loop.
func TestStreamWriteFromPacketError(t *testing.T) {
	var stream atomic.Pointer[Conn]
	e, addr := start(t, Funcs{Open: func(c *Conn) { stream.Store(c) }}, Options{Loops: 1})
	c := dial(t, addr)
	waitFor(t, "the stream connection", func() bool { return stream.Load() != nil })

	peer := udpEchoServer(t)
	failed := 0
	h := &packetErrFuncs{
		data: func(*PacketConn, []byte, PacketAddr) {},
		err: func(*PacketConn, error) {
			failed++
			stream.Load().Write([]byte("E"))
		},
	}
	pc, err := e.DialPacket(context.Background(), "udp", peer.String(), h)
	require.NoError(t, err)
	defer pc.AsyncClose()

	// What the loop does at the end of an iteration, run from a task so
	// that the state after it can be looked at before the loop waits.
	type state struct {
		failed, dirty int
		staged        bool
	}
	seen := make(chan state, 1)
	l := e.Loops()[0]
	require.NoError(t, l.Do(func() {
		assert.NoError(t, pc.WriteTo(make([]byte, 70000), PacketAddr{})) // EMSGSIZE as it is sent
		l.settleAll()
		seen <- state{failed, len(l.dirty), l.staged != nil}
	}))
	s := <-seen
	require.Equal(t, 1, s.failed, "the datagram's send failed")
	assert.Zero(t, s.dirty, "a connection left dirty")
	assert.False(t, s.staged, "the stage left held")

	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.NoError(t, err, "the write from OnPacketError did not arrive")
}

// TestPacketErrorHandlerRequeues: a handler that answers every failed send
// with another that fails, on the same socket or on a second one that
// answers back, does not hold its loop. Each socket's failing datagram
// goes once per flush, the loop serves a third socket meanwhile, and the
// errors go on being reported across iterations until the handler stops.
func TestPacketErrorHandlerRequeues(t *testing.T) {
	for _, tc := range []struct {
		name        string
		answerOther bool
	}{{"itself", false}, {"each other", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e, echoAddr := startPacket(t, "udp", "127.0.0.1:0", packetEcho, Options{Loops: 1})
			var stop atomic.Bool
			t.Cleanup(func() { stop.Store(true) }) // before the engine stops, on a failure too
			big := make([]byte, 70000)             // longer than any UDP datagram: EMSGSIZE as it is sent
			peer := udpEchoServer(t)
			var errs atomic.Int64
			var a, b *PacketConn
			h := &packetErrFuncs{
				data: func(*PacketConn, []byte, PacketAddr) {},
				err: func(pc *PacketConn, err error) {
					if stop.Load() {
						return
					}
					errs.Add(1)
					to := pc
					if tc.answerOther {
						to = a
						if pc == a {
							to = b
						}
					}
					to.WriteTo(big, PacketAddr{})
				},
			}
			var err error
			a, err = e.DialPacket(context.Background(), "udp", peer.String(), h)
			require.NoError(t, err)
			b, err = e.DialPacket(context.Background(), "udp", peer.String(), h)
			require.NoError(t, err)
			require.NoError(t, a.Loop().Do(func() { a.WriteTo(big, PacketAddr{}) }))

			waitFor(t, "the first send error", func() bool { return errs.Load() > 0 })
			c := dialUDP(t, echoAddr)
			for i := range 3 {
				msg := []byte{'a' + byte(i)}
				assert.Equal(t, msg, udpExchange(t, c, msg), "the loop no longer serves")
			}
			n := errs.Load()
			waitFor(t, "more send errors, iterations later", func() bool { return errs.Load() > n+10 })
			stop.Store(true)
			assert.Equal(t, "still", string(udpExchange(t, c, []byte("still"))))
		})
	}
}
