package loop

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// controlLog records the calls of a Control function, from any goroutine.
type controlLog struct {
	mu    sync.Mutex
	calls []controlCall
	err   error // what the function returns
}

type controlCall struct {
	network, address string
	fd               uintptr
}

func (cl *controlLog) control(network, address string, c syscall.RawConn) error {
	call := controlCall{network: network, address: address}
	if err := c.Control(func(fd uintptr) { call.fd = fd }); err != nil {
		return err
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.calls = append(cl.calls, call)
	return cl.err
}

func (cl *controlLog) get() []controlCall {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]controlCall(nil), cl.calls...)
}

// TestListenControl: ListenControl sees every socket the engine opens to
// listen, each loop's SO_REUSEPORT copy included, before it is bound; an
// error from it fails the Listen.
func TestListenControl(t *testing.T) {
	var cl controlLog
	e, err := New(Funcs{}, Options{Loops: 2, ReusePort: true, ListenControl: cl.control, Logger: quietLog})
	require.NoError(t, err)
	t.Cleanup(func() { stop(t, e) })

	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	calls := cl.get()
	require.NotEmpty(t, calls)
	assert.LessOrEqual(t, len(calls), 2, "one socket per loop at most")
	assert.Equal(t, controlCall{network: "tcp4", address: "127.0.0.1:0", fd: calls[0].fd}, calls[0],
		"the first socket is bound to the address asked for")
	for _, c := range calls[1:] {
		assert.Equal(t, controlCall{network: "tcp4", address: addr.String(), fd: c.fd}, c,
			"the other loops' sockets are bound to the port the first got")
	}

	before := len(cl.get())
	paddr, err := e.ListenPacket("udp", "127.0.0.1:0", discardPackets{})
	require.NoError(t, err)
	calls = cl.get()[before:]
	require.NotEmpty(t, calls)
	assert.Equal(t, "udp4", calls[0].network)
	for _, c := range calls[1:] {
		assert.Equal(t, controlCall{network: "udp4", address: paddr.String(), fd: c.fd}, c)
	}

	cl.mu.Lock()
	cl.err = errors.New("refused by ListenControl")
	cl.mu.Unlock()
	before = len(cl.get())
	_, err = e.Listen("tcp", "127.0.0.1:0")
	assert.ErrorIs(t, err, cl.err)
	_, err = e.ListenPacket("udp", "127.0.0.1:0", discardPackets{})
	assert.ErrorIs(t, err, cl.err)
	assert.Len(t, e.Addrs(), 2, "the refused listens left nothing behind")
	// Not asked again without SO_REUSEPORT (that fallback is for systems
	// without it).
	assert.Len(t, cl.get(), before+2)
}

// TestWithControl: a Dial's Control sees each socket it opens, before the
// connect, with the address dialed; an error from it fails the attempt
// like a refused connect, in OnClose, and no later call is made.
func TestWithControl(t *testing.T) {
	_, addr := start(t, Funcs{}, Options{})
	e := newClientEngine(t)
	opened := make(chan uintptr, 1)
	closed := make(chan error, 1)
	e.h.(*switchHandler).set(Funcs{
		Open: func(c *Conn) {
			rc, err := c.SyscallConn()
			if assert.NoError(t, err) {
				assert.NoError(t, rc.Control(func(fd uintptr) { opened <- fd }))
			}
		},
		Close: func(c *Conn, err error) { closed <- err },
	})

	var cl controlLog
	c, err := e.Dial(context.Background(), "tcp", addr, WithControl(cl.control))
	require.NoError(t, err)
	fd := within(t, opened, 10*time.Second, "the dial with a Control did not open")
	assert.Equal(t, []controlCall{{network: "tcp4", address: addr, fd: fd}}, cl.get())
	c.AsyncClose(nil)
	within(t, closed, 10*time.Second, "the dialed connection did not close")

	refusing := controlLog{err: errors.New("refused by WithControl")}
	_, err = e.Dial(context.Background(), "tcp", addr, WithControl(refusing.control))
	require.NoError(t, err)
	err = within(t, closed, 10*time.Second, "the refused dial did not end in OnClose")
	assert.ErrorIs(t, err, refusing.err)
	var op *net.OpError
	assert.ErrorAs(t, err, &op, "reported as a dial's failure")
	assert.Len(t, refusing.get(), 1)
	assert.Empty(t, opened, "OnOpen for a refused dial")
}

// A Control function written for Go's net works unchanged.
var _ evsel.ControlFunc = (&net.ListenConfig{}).Control

// discardPackets is a PacketHandler that drops what it gets.
type discardPackets struct{}

func (discardPackets) OnPacket(*PacketConn, []byte, PacketAddr) {}

// TestWithControlPanic: a Dial's Control that panics is the handler's
// fault, as a callback's panic is: the attempt fails with a *PanicError
// (its socket closed), the Dial ends in OnClose, and the loop goes on.
// Whether the panic comes in the first attempt (run from a task) or in
// one after a refused connect (run from the driver's completion, where
// nothing recovered it and the process died), and the engine still stops.
func TestWithControlPanic(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(refused.Addr().String())
	require.NoError(t, err)
	require.NoError(t, refused.Close()) // nothing listens there now

	e := newClientEngine(t)
	e.lookupIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		lo := netip.MustParseAddr("127.0.0.1")
		return []netip.Addr{lo, lo}, nil
	}
	closed := make(chan error, 1)
	e.h.(*switchHandler).set(Funcs{
		Open:  func(c *Conn) { t.Error("OnOpen for a dial whose Control panicked") },
		Close: func(c *Conn, err error) { closed <- err },
	})
	for _, tc := range []struct {
		name, addr string
		panicAt    int // the Control call that panics
	}{
		{"first attempt", net.JoinHostPort("127.0.0.1", port), 1},
		{"after a refused connect", net.JoinHostPort("refused.test", port), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			control := func(network, address string, c syscall.RawConn) error {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				if n == tc.panicAt {
					panic("control panicked")
				}
				return nil
			}
			_, err := e.Dial(context.Background(), "tcp", tc.addr, WithControl(control))
			require.NoError(t, err)
			err = within(t, closed, 10*time.Second, "the dial whose Control panicked did not end in OnClose")
			var perr *PanicError
			assert.ErrorAs(t, err, &perr)
			mu.Lock()
			assert.Equal(t, tc.panicAt, calls)
			mu.Unlock()
		})
	}
}
