package loop

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// packetEcho sends every datagram back to its sender.
var packetEcho = PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
	pc.WriteTo(data, from)
})

// startPacket runs an engine serving a datagram address with h, stopped at
// the end of the test.
func startPacket(t *testing.T, network, address string, h PacketHandler, opts Options) (*Engine, net.Addr) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLog
	}
	e, err := New(Funcs{}, opts)
	require.NoError(t, err)
	t.Cleanup(func() { stop(t, e) })
	addr, err := e.ListenPacket(network, address, h)
	require.NoError(t, err)
	return e, addr
}

// udpExchange sends msg from c and waits for the echo, resending on a
// timeout (loopback UDP may drop under load). A resent datagram whose
// first echo was only late is echoed twice: the second copy, still
// queued at c, is not the answer to the next exchange on c, which skips
// it (and only such a copy: any other datagram is returned).
func udpExchange(t *testing.T, c udpPeer, msg []byte) []byte {
	t.Helper()
	buf := make([]byte, 64<<10)
	for try := 0; try < 20; try++ {
		_, err := c.Write(msg)
		require.NoError(t, err)
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, err := c.Read(buf)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			require.NoError(t, err)
			if !bytes.Equal(buf[:n], msg) && udpResent.takeCopy(c, buf[:n]) {
				continue
			}
			if try > 0 {
				udpResent.add(c, msg, try)
			}
			return buf[:n]
		}
	}
	t.Fatalf("no answer to a %d-byte datagram", len(msg))
	return nil
}

// udpResent counts, per peer, the echoes still owed for datagrams that
// udpExchange sent more than once.
var udpResent = resentEchoes{owed: map[udpPeer]map[string]int{}}

type resentEchoes struct {
	mu   sync.Mutex
	owed map[udpPeer]map[string]int
}

func (r *resentEchoes) add(c udpPeer, msg []byte, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.owed[c] == nil {
		r.owed[c] = map[string]int{}
	}
	r.owed[c][string(msg)] += n
}

// takeCopy reports whether p is a late copy owed to c, and counts it off.
func (r *resentEchoes) takeCopy(c udpPeer, p []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.owed[c][string(p)] == 0 {
		return false
	}
	r.owed[c][string(p)]--
	return true
}

// TestListenPacketEcho: several clients at once, every datagram echoed to
// its own sender, over two loops (on Linux one SO_REUSEPORT socket each).
func TestListenPacketEcho(t *testing.T) {
	hosts := []string{"127.0.0.1"}
	if l, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		l.Close()
		hosts = append(hosts, "::1")
	}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			e, addr := startPacket(t, "udp", net.JoinHostPort(host, "0"), packetEcho, Options{Loops: 2})
			assert.Contains(t, e.Addrs(), addr)
			const clients, each = 8, 50
			var wg sync.WaitGroup
			for i := range clients {
				c := dialUDP(t, addr)
				wg.Go(func() {
					for j := range each {
						msg := fmt.Appendf(nil, "client %d datagram %d %s", i, j, bytes.Repeat([]byte("x"), j*20))
						if got := udpExchange(t, c, msg); !bytes.Equal(msg, got) {
							t.Errorf("client %d: echo %q of %q", i, got, msg)
							return
						}
					}
				})
			}
			wg.Wait()
			// The counters are bumped after the send that the clients saw.
			waitFor(t, "the counters", func() bool {
				st := e.Stats()
				return st.DatagramsIn >= clients*each && st.DatagramsOut >= clients*each
			})
			assert.Zero(t, e.Stats().DatagramsDropped)
		})
	}
}

// TestPacketHandlerPanic: a panic drops its datagram only.
func TestPacketHandlerPanic(t *testing.T) {
	e, addr := startPacket(t, "udp", "127.0.0.1:0", PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		if string(data) == "boom" {
			panic("boom")
		}
		pc.WriteTo(data, from)
	}), Options{Loops: 1})
	c := dialUDP(t, addr)
	_, err := c.Write([]byte("boom"))
	require.NoError(t, err)
	waitFor(t, "the panic", func() bool { return e.Stats().DatagramsDropped == 1 })
	assert.Equal(t, "still here", string(udpExchange(t, c, []byte("still here"))))
}

// panicLog is a slog.Handler that keeps the "unlogged" count of every
// record of a datagram handler's panic.
type panicLog struct {
	mu       sync.Mutex
	unlogged []int64
}

func (h *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *panicLog) WithGroup(string) slog.Handler            { return h }
func (h *panicLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "packet handler panic") {
		return nil
	}
	var n int64 = -1
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "unlogged" {
			n = a.Value.Int64()
		}
		return true
	})
	h.mu.Lock()
	h.unlogged = append(h.unlogged, n)
	h.mu.Unlock()
	return nil
}

func (h *panicLog) records() (n int, unlogged int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range h.unlogged {
		unlogged += u
	}
	return len(h.unlogged), unlogged
}

// TestPacketPanicFlood: a peer whose every datagram makes the handler
// panic does not get a stack and a log record per datagram (kilobytes of
// log for a byte, and a loop slowed twentyfold): a loop logs one panic a
// second and says how many it left out, and every one is counted.
func TestPacketPanicFlood(t *testing.T) {
	log := &panicLog{}
	e, addr := startPacket(t, "udp", "127.0.0.1:0", PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		if string(data) == "boom" {
			panic("boom")
		}
		pc.WriteTo(data, from)
	}), Options{Loops: 1, Logger: slog.New(log)})
	c := dialUDP(t, addr)
	began := time.Now()
	for e.Stats().DatagramsDropped < 200 {
		for range 50 {
			c.Write([]byte("boom"))
		}
		time.Sleep(time.Millisecond)
	}
	logged, _ := log.records()
	assert.LessOrEqual(t, logged, 1+int(time.Since(began)/packetPanicLogEvery), "a record per panic")
	assert.Equal(t, "alive", string(udpExchange(t, c, []byte("alive"))))

	// The next period's first panic is logged, with the count left out.
	waitFor(t, "the flood to be served", func() bool { return e.Stats().DatagramsDropped == e.Stats().DatagramsIn-1 })
	time.Sleep(packetPanicLogEvery)
	c.Write([]byte("boom"))
	waitFor(t, "the last panic's record", func() bool {
		n, unlogged := log.records()
		return int64(n)+unlogged == e.Stats().DatagramsDropped
	})
}

// TestPacketQueueBound: datagrams past MaxPacketQueue in one iteration are
// dropped and counted; the first ones go.
func TestPacketQueueBound(t *testing.T) {
	results := make(chan error, 16)
	e, addr := startPacket(t, "udp", "127.0.0.1:0", PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		for i := range 10 {
			results <- pc.WriteTo(fmt.Appendf(nil, "%s %d", data, i), from)
		}
	}), Options{Loops: 1, MaxPacketQueue: 4})
	c := dialUDP(t, addr)
	_, err := c.Write([]byte("copy"))
	require.NoError(t, err)
	for i := range 10 {
		if i < 4 {
			assert.NoError(t, <-results)
		} else {
			assert.ErrorIs(t, <-results, ErrDatagramDropped)
		}
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 4 {
		n, err := c.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("copy %d", i), string(buf[:n]))
	}
	assert.Equal(t, int64(6), e.Stats().DatagramsDropped)
}

// TestPacketTruncated: a datagram longer than Options.DatagramSize is not
// delivered.
func TestPacketTruncated(t *testing.T) {
	e, addr := startPacket(t, "udp", "127.0.0.1:0", packetEcho, Options{Loops: 1, DatagramSize: 16})
	c := dialUDP(t, addr)
	_, err := c.Write(bytes.Repeat([]byte("y"), 17))
	require.NoError(t, err)
	waitFor(t, "the truncated datagram", func() bool { return e.Stats().DatagramsTruncated == 1 })
	assert.Equal(t, "sixteen bytes ok", string(udpExchange(t, c, []byte("sixteen bytes ok"))))
}

// TestDialPacket: a connected datagram socket on the engine talks to an
// echo server outside it (net's); AsyncWriteTo works from outside the loops.
func TestDialPacket(t *testing.T) {
	srvAddr := udpEchoServer(t)
	e, err := New(Funcs{}, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	got := make(chan string, 64)
	pc, err := e.DialPacket(context.Background(), "udp", srvAddr.String(),
		PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
			assert.Equal(t, srvAddr.String(), from.String())
			got <- string(data)
		}))
	require.NoError(t, err)
	assert.Equal(t, srvAddr.String(), pc.RemoteAddr().String())
	owed := map[string]int{} // late copies a resent datagram may still bring
	for i := range 5 {
		msg := fmt.Sprintf("hello %d", i)
	exchange:
		for try := 0; ; try++ {
			require.NoError(t, pc.AsyncWriteTo([]byte(msg), PacketAddr{}))
			timeout := time.After(time.Second)
			for {
				select {
				case m := <-got:
					if m != msg && owed[m] > 0 { // an echo that was late, not lost
						owed[m]--
						continue
					}
					assert.Equal(t, msg, m)
					owed[msg] += try
					break exchange
				case <-timeout:
					require.Less(t, try, 10, "no echo")
					continue exchange
				}
			}
		}
	}
	require.NoError(t, pc.AsyncClose())
	waitFor(t, "the close", func() bool { return pc.closed.Load() })
}

// TestListenPacketUnixgram: Unix datagram sockets on the engine answer
// named senders by their path.
func TestListenPacketUnixgram(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix datagram sockets on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "srv")
	_, addr := startPacket(t, "unixgram", path, packetEcho, Options{Loops: 1})
	assert.Equal(t, "unixgram", addr.Network())
	cl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "cl"), Net: "unixgram"})
	require.NoError(t, err)
	defer cl.Close()
	to := &net.UnixAddr{Name: path, Net: "unixgram"}
	buf := make([]byte, 64)
	for i := range 5 {
		msg := fmt.Sprintf("unix %d", i)
		_, err := cl.WriteToUnix([]byte(msg), to)
		require.NoError(t, err)
		cl.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := cl.ReadFromUnix(buf)
		require.NoError(t, err)
		assert.Equal(t, msg, string(buf[:n]))
		assert.Equal(t, path, from.Name)
	}
}

// TestListenPacketStop: Stop closes the datagram sockets, so the port can
// be bound again.
func TestListenPacketStop(t *testing.T) {
	e, err := New(Funcs{}, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	addr, err := e.ListenPacket("udp", "127.0.0.1:0", packetEcho)
	require.NoError(t, err)
	stop(t, e)
	require.NoError(t, bindUDP(addr.String()), "the engine let go of the port")
	_, err = e.ListenPacket("udp", "127.0.0.1:0", packetEcho)
	assert.ErrorIs(t, err, ErrStopped)
}

// TestServePacket: the engine serves a datagram socket made outside it,
// and refuses a stream socket.
func TestServePacket(t *testing.T) {
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	s, err := evsel.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	pc, err := e.ServePacket(s, packetEcho)
	require.NoError(t, err)
	c := dialUDP(t, pc.LocalAddr())
	assert.Equal(t, "adopted", string(udpExchange(t, c, []byte("adopted"))))

	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = e.ServePacket(ln, packetEcho)
	assert.Error(t, err)
}

// TestDialPacketOnLoop: on a loop, DialPacket takes a numeric address but
// refuses a host name, whose lookup would stall the loop.
func TestDialPacketOnLoop(t *testing.T) {
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	e.lookupIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		<-ctx.Done() // a resolver that does not answer
		return nil, ctx.Err()
	}
	type result struct {
		pc  *PacketConn
		err error
	}
	res := make(chan result, 2)
	require.NoError(t, e.Loops()[0].Do(func() {
		for _, addr := range []string{"127.0.0.1:9", "resolver.invalid:9"} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			pc, err := e.DialPacket(ctx, "udp", addr, packetEcho)
			cancel()
			res <- result{pc, err}
		}
	}))
	numeric := <-res
	require.NoError(t, numeric.err)
	numeric.pc.AsyncClose()
	named := <-res
	assert.ErrorIs(t, named.err, ErrOnLoop)
}

// TestPacketNilHandler: a datagram socket without a handler is refused up
// front, not served with a panic, logged with its stack, per datagram.
func TestPacketNilHandler(t *testing.T) {
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	_, err = e.ListenPacket("udp", "127.0.0.1:0", nil)
	assert.Error(t, err)
	_, err = e.DialPacket(context.Background(), "udp", "127.0.0.1:9", nil)
	assert.Error(t, err)
	s, err := evsel.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer s.Close() // refused, so still the caller's
	_, err = e.ServePacket(s, nil)
	assert.Error(t, err)
}

// TestPacketAsyncWriteToClose: datagrams AsyncWriteTo accepted while
// another goroutine closes the socket are each sent or counted as
// dropped, none lost unaccounted.
func TestPacketAsyncWriteToClose(t *testing.T) {
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	ignore := PacketFunc(func(*PacketConn, []byte, PacketAddr) {}) // the echoes are not sent again
	pc, err := e.DialPacket(context.Background(), "udp", udpEchoServer(t).String(), ignore)
	require.NoError(t, err)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5000 {
				if pc.AsyncWriteTo([]byte("x"), PacketAddr{}) == nil {
					accepted.Add(1)
				}
			}
		})
	}
	waitFor(t, "some datagrams", func() bool { return accepted.Load() > 100 })
	require.NoError(t, pc.AsyncClose())
	wg.Wait()
	waitFor(t, "every accepted datagram sent or dropped", func() bool {
		st := e.Stats()
		return st.DatagramsOut+st.DatagramsDropped == accepted.Load()
	})
}

// TestDialPacketOnItsLoop: a socket DialPacket makes on its own loop is
// registered by a task that runs after the caller returns. Written to
// before that, it sends what the socket takes and holds the rest for
// WRITE like any other, with no error (it asked the driver for WRITE on
// a descriptor not registered yet, and the rest waited for ever); closed
// before that, it closes, instead of panicking on a loop with no
// datagram state and leaving its descriptor open and then registered.
func TestDialPacketOnItsLoop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux's Unix datagram queue makes the connected sender wait")
	}
	e, err := New(Funcs{}, Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)
	l := e.Loops()[0]

	t.Run("closed at once", func(t *testing.T) {
		srv := udpEchoServer(t)
		local := make(chan any, 1)
		require.NoError(t, l.Do(func() {
			defer func() {
				if r := recover(); r != nil {
					local <- r
				}
			}()
			pc, err := e.DialPacket(context.Background(), "udp", srv.String(), packetEcho)
			require.NoError(t, err)
			require.NoError(t, pc.Close())
			local <- pc.LocalAddr()
		}))
		got := <-local
		addr, ok := got.(net.Addr)
		require.True(t, ok, "Close panicked: %v", got)
		waitFor(t, "the socket's port to be free", func() bool { return bindUDP(addr.String()) == nil })
	})

	t.Run("written at once", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "srv")
		srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		require.NoError(t, err)
		defer srv.Close()
		var errs atomic.Int64
		h := &packetErrFuncs{
			data: func(*PacketConn, []byte, PacketAddr) {},
			err:  func(*PacketConn, error) { errs.Add(1) },
		}
		const count = 600 // more than the receiver's queue or the sender's buffer takes unread
		require.NoError(t, l.Do(func() {
			pc, err := e.DialPacket(context.Background(), "unixgram", path, h)
			require.NoError(t, err)
			for i := range count {
				require.NoError(t, pc.Write(fmt.Appendf(nil, "%d", i)))
			}
		}))
		time.Sleep(50 * time.Millisecond) // the queue fills; the rest waits for room
		buf := make([]byte, 16)
		for i := range count {
			require.NoError(t, srv.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, _, err := srv.ReadFrom(buf)
			require.NoError(t, err, "datagram %d never came", i)
			require.Equal(t, fmt.Sprint(i), string(buf[:n]))
		}
		assert.Zero(t, errs.Load(), "OnPacketError")
	})
}
