package loop

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// portOf is the port of a "host:port" address.
func portOf(t *testing.T, addr string) uint16 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	n, err := strconv.ParseUint(p, 10, 16)
	require.NoError(t, err)
	return uint16(n)
}

// answer is a lookup that returns ips for any host.
func answer(ips ...string) lookupIP {
	return func(context.Context, string, string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, ip := range ips {
			out = append(out, netip.MustParseAddr(ip))
		}
		return out, nil
	}
}

// dialEvents is a handler that reports what happens to dialed connections.
// Accepted connections echo.
type dialEvents struct {
	opened chan netip.AddrPort // the peer's address
	got    chan string
	closed chan error
}

func newDialEvents() *dialEvents {
	return &dialEvents{opened: make(chan netip.AddrPort, 4), got: make(chan string, 4), closed: make(chan error, 4)}
}

func (d *dialEvents) handler() Funcs {
	return Funcs{
		Open: func(c *Conn) {
			if c.Data() == "dialed" {
				d.opened <- c.RemoteAddrPort()
			}
		},
		Data: func(c *Conn) {
			if c.Data() != "dialed" {
				echo.Data(c)
				return
			}
			d.got <- string(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: func(c *Conn, err error) {
			if c.Data() == "dialed" {
				d.closed <- err
			}
		},
	}
}

func (d *dialEvents) waitOpen(t *testing.T) netip.AddrPort {
	t.Helper()
	select {
	case a := <-d.opened:
		return a
	case err := <-d.closed:
		t.Fatalf("dial failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("dial never ended")
	}
	return netip.AddrPort{}
}

func (d *dialEvents) waitClose(t *testing.T) error {
	t.Helper()
	select {
	case a := <-d.opened:
		t.Fatalf("dial connected to %v", a)
	case err := <-d.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("dial never ended")
	}
	return nil
}

// TestDialLookupOffLoop: a Dial by host name from a loop callback looks the
// name up elsewhere; while the lookup hangs, the loop serves its other
// connections.
func TestDialLookupOffLoop(t *testing.T) {
	ev := newDialEvents()
	e, addr := start(t, ev.handler(), Options{Loops: 1})
	asked := make(chan string, 1)
	release := make(chan struct{})
	e.lookupIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		asked <- network + " " + host
		<-release
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	port := portOf(t, addr)
	require.NoError(t, e.Loops()[0].Do(func() {
		_, err := e.Dial(context.Background(), "tcp", net.JoinHostPort("localhost", strconv.Itoa(int(port))), WithData("dialed"))
		assert.NoError(t, err)
	}))
	assert.Equal(t, "ip localhost", <-asked)

	other := dial(t, addr)
	assert.Equal(t, []byte("meanwhile"), roundTrip(t, other, []byte("meanwhile")), "the loop is not blocked by the lookup")
	select {
	case <-ev.opened:
		t.Fatal("connected before the lookup ended")
	default:
	}
	close(release)
	assert.Equal(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), ev.waitOpen(t))
}

// TestDialTriesEachAddress: the addresses a name resolves to are tried in
// turn until one accepts; if none does, OnClose gets every attempt's error.
func TestDialTriesEachAddress(t *testing.T) {
	ev := newDialEvents()
	e, addr := start(t, ev.handler(), Options{Loops: 1}) // listens on 127.0.0.1 only
	port := portOf(t, addr)
	target := net.JoinHostPort("server.test", strconv.Itoa(int(port)))

	e.lookupIP = answer("127.0.0.2", "127.0.0.1") // 127.0.0.2 refuses
	_, err := e.Dial(context.Background(), "tcp", target, WithData("dialed"))
	require.NoError(t, err)
	assert.Equal(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), ev.waitOpen(t))

	e.lookupIP = answer("127.0.0.2", "127.0.0.3")
	_, err = e.Dial(context.Background(), "tcp", target, WithData("dialed"))
	require.NoError(t, err)
	err = ev.waitClose(t)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.ErrorContains(t, err, "127.0.0.2:")
	assert.ErrorContains(t, err, "127.0.0.3:")
	assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 2, "one error per attempt")

	e.lookupIP = answer("::1")
	_, err = e.Dial(context.Background(), "tcp4", target, WithData("dialed"))
	require.NoError(t, err)
	var aerr *net.AddrError
	assert.ErrorAs(t, ev.waitClose(t), &aerr, "no IPv4 address for tcp4")
}

func TestResolveOrder(t *testing.T) {
	lookup := answer("::1", "127.0.0.1", "::ffff:127.0.0.2", "fe80::1")
	for network, want := range map[string]string{
		"tcp":  "[127.0.0.1:80 127.0.0.2:80 [::1]:80 [fe80::1]:80]",
		"tcp4": "[127.0.0.1:80 127.0.0.2:80]",
		"tcp6": "[[::1]:80 [fe80::1]:80]",
	} {
		tg, err := parseTarget(network, "server.test:http")
		require.NoError(t, err)
		addrs, err := tg.resolve(context.Background(), lookup)
		require.NoError(t, err, network)
		var got []string
		for _, a := range addrs {
			got = append(got, a.String())
		}
		assert.Equal(t, want, "["+joinSpace(got)+"]", network)
	}
}

func joinSpace(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// TestDialContextEndsLookup: cancelling or timing out Dial's context ends a
// dial whose lookup hangs, at once, with the context's error; the late
// answer of the lookup is dropped.
func TestDialContextEndsLookup(t *testing.T) {
	ev := newDialEvents()
	e, _ := start(t, ev.handler(), Options{Loops: 1})
	release := make(chan struct{})
	defer close(release)
	e.lookupIP = func(context.Context, string, string) ([]netip.Addr, error) {
		<-release // a resolver that ignores its context
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := e.Dial(ctx, "tcp", "server.test:1", WithData("dialed"))
	require.NoError(t, err)
	cancel()
	assert.ErrorIs(t, ev.waitClose(t), context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = e.Dial(ctx, "tcp", "server.test:1", WithData("dialed"))
	require.NoError(t, err)
	assert.ErrorIs(t, ev.waitClose(t), context.DeadlineExceeded)
	waitFor(t, "the loop to forget the dials", func() bool { return e.Stats().Open == 0 })
}

// TestDialContextLetGo: once connected, the dial's context no longer
// matters.
func TestDialContextLetGo(t *testing.T) {
	ev := newDialEvents()
	e, addr := start(t, ev.handler(), Options{Loops: 1})
	ctx, cancel := context.WithCancel(context.Background())
	c, err := e.Dial(ctx, "tcp", addr, WithData("dialed"))
	require.NoError(t, err)
	ev.waitOpen(t)
	cancel()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, c.AsyncWrite([]byte("still up")))
	select {
	case got := <-ev.got:
		assert.Equal(t, "still up", got)
	case err := <-ev.closed:
		t.Fatalf("closed by its dial's context: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no echo")
	}
}

// TestDialErrorsAtOnce: Dial reports at once only what needs no I/O.
func TestDialErrorsAtOnce(t *testing.T) {
	e, _ := start(t, Funcs{}, Options{Loops: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Dial(ctx, "tcp", "127.0.0.1:1")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = e.Dial(context.Background(), "udp", "127.0.0.1:1")
	assert.Error(t, err)
	_, err = e.Dial(context.Background(), "tcp", "no port")
	assert.Error(t, err)
	stop(t, e)
	_, err = e.Dial(context.Background(), "tcp", "127.0.0.1:1")
	assert.ErrorIs(t, err, ErrStopped)
}

// TestStopDuringLookup: Stop does not wait for a hanging lookup; the dial
// ends with ErrStopped.
func TestStopDuringLookup(t *testing.T) {
	ev := newDialEvents()
	e, err := New(ev.handler(), Options{Loops: 1, Logger: quietLog})
	require.NoError(t, err)
	release := make(chan struct{})
	defer close(release)
	e.lookupIP = func(context.Context, string, string) ([]netip.Addr, error) {
		<-release
		return nil, errors.New("too late")
	}
	_, err = e.Dial(context.Background(), "tcp", "server.test:1", WithData("dialed"))
	require.NoError(t, err)
	waitFor(t, "the dial to start", func() bool { return e.Stats().Open == 1 })
	stop(t, e)
	assert.ErrorIs(t, ev.waitClose(t), ErrStopped)
}

// TestWakeBeforeOpen: Wake on a Dial's connection before it is open (still
// connecting, or in its TLS handshake) calls OnData right after OnOpen,
// never before it, and only once; not at all if OnOpen closes the
// connection.
func TestWakeBeforeOpen(t *testing.T) {
	p := getPKI(t)
	_, plainAddr := start(t, echo, Options{Loops: 1})
	_, tlsAddr := startTLS(t, echo, Options{Loops: 1}, p.serverConfig())
	for _, tc := range []struct {
		name, addr string
		opts       []DialOption
		closeOpen  bool // OnOpen closes the connection
		want       []string
	}{
		{"plain", plainAddr, nil, false, []string{"open", "data"}},
		{"TLS", tlsAddr, []DialOption{WithTLS(p.clientConfig())}, false, []string{"open", "data"}},
		{"TLS closed in OnOpen", tlsAddr, []DialOption{WithTLS(p.clientConfig())}, true, []string{"open", "close"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := make(chan string, 8)
			e, err := New(Funcs{
				Open: func(c *Conn) {
					calls <- "open"
					if tc.closeOpen {
						c.Close()
					}
				},
				Data:  func(c *Conn) { calls <- "data" },
				Close: func(c *Conn, err error) { calls <- "close" },
			}, Options{Loops: 1, Logger: quietLog})
			require.NoError(t, err)
			t.Cleanup(func() { stop(t, e) })
			c, err := e.Dial(context.Background(), "tcp", tc.addr, tc.opts...)
			require.NoError(t, err)
			require.NoError(t, c.Wake())
			for _, want := range tc.want {
				select {
				case got := <-calls:
					require.Equal(t, want, got)
				case <-time.After(10 * time.Second):
					t.Fatalf("no %s", want)
				}
			}
			// Nothing more: the wake was not run twice.
			flushed := make(chan struct{})
			require.NoError(t, c.Loop().Do(func() { close(flushed) }))
			<-flushed
			assert.Empty(t, calls)
		})
	}
}
