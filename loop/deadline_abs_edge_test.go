package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// TestDeadlineTLS: on a TLS connection the read deadline closes a silent
// peer, and the write deadline one that does not take its records.
func TestDeadlineTLS(t *testing.T) {
	p := getPKI(t)
	t.Run("read", func(t *testing.T) {
		closes := make(chan closeEvent, 1)
		e, addr := startTLS(t, Funcs{
			Open:  func(c *Conn) { assert.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond))) },
			Close: recordCloses(closes),
		}, Options{}, p.serverConfig())
		c := dialTLS(t, addr, p.clientConfig())
		assert.True(t, closedWithin(c, 10*time.Second), "the silent peer stayed open")
		assert.ErrorIs(t, within(t, closes, 10*time.Second, "no OnClose").err, ErrReadDeadline)
		assert.Equal(t, int64(1), e.Stats().ReadDeadlineClosed)
	})
	t.Run("write", func(t *testing.T) {
		conns := make(chan *Conn, 1)
		closes := make(chan closeEvent, 1)
		e, addr := startTLS(t, flooder(t, 200*time.Millisecond, 256<<10, conns, closes), Options{}, p.serverConfig())
		c, err := tls.DialWithDialer(sockettest.SmallBufferDialer(), "tcp", addr, p.clientConfig())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		<-conns
		_, err = c.Write([]byte("go"))
		require.NoError(t, err)
		assert.ErrorIs(t, within(t, closes, 10*time.Second, "no OnClose").err, ErrWriteDeadline)
		assert.Equal(t, int64(1), e.Stats().WriteDeadlineClosed)
	})
}

// silentServer accepts connections and never sends or reads a byte, until
// the test ends: a TLS client's handshake waits on it for ever.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestDeadlineDial: a deadline set on a Dial'd connection before it is
// open, from another goroutine through Do, bounds its connect (here its
// address lookup, which never answers) and its TLS handshake: the attempt
// ends in OnClose with the deadline's error and no OnOpen. Set on a plain
// connection to a silent server, the read deadline closes it after the
// open.
func TestDeadlineDial(t *testing.T) {
	e := newClientEngine(t)
	addr := silentServer(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.lookupIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		<-release
		return nil, errors.New("no answer")
	}
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p := getPKI(t)
	for _, tc := range []struct {
		name, addr string
		tls        bool
		set        func(c *Conn, t time.Time) error
		want       error
	}{
		{"plain read", addr, false, (*Conn).SetReadDeadline, ErrReadDeadline},
		{"lookup read", net.JoinHostPort("stall.test", port), false, (*Conn).SetReadDeadline, ErrReadDeadline},
		{"lookup write", net.JoinHostPort("stall.test", port), false, (*Conn).SetWriteDeadline, ErrWriteDeadline},
		{"handshake read", addr, true, (*Conn).SetReadDeadline, ErrReadDeadline},
		{"handshake write", addr, true, (*Conn).SetWriteDeadline, ErrWriteDeadline},
		{"handshake both", addr, true, (*Conn).SetDeadline, ErrWriteDeadline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opened := make(chan struct{}, 1)
			closes := make(chan closeEvent, 1)
			e.h.(*switchHandler).set(Funcs{
				Open:  func(c *Conn) { opened <- struct{}{} },
				Close: recordCloses(closes),
			})
			var opts []DialOption
			if tc.tls {
				opts = append(opts, WithTLS(p.clientConfig()))
			}
			c, err := e.Dial(context.Background(), "tcp", tc.addr, opts...)
			require.NoError(t, err)
			require.NoError(t, c.Do(func(c *Conn) {
				assert.NoError(t, tc.set(c, time.Now().Add(200*time.Millisecond)))
			}))
			assert.ErrorIs(t, within(t, closes, 10*time.Second, "no OnClose").err, tc.want)
			if tc.addr != addr || tc.tls {
				assert.Empty(t, opened, "OnOpen came for a connect or handshake that never ended")
			}
		})
	}
	st := e.Stats()
	assert.Equal(t, int64(3), st.ReadDeadlineClosed)
	assert.Equal(t, int64(3), st.WriteDeadlineClosed)
}

// TestDeadlineOtherCloseFirst: a connection closed for another reason
// before its deadlines pass (by its handler, by its peer's end) closes
// once, with that reason, its timers stopped; they never fire into it,
// and calls on it then return ErrClosed.
func TestDeadlineOtherCloseFirst(t *testing.T) {
	const d = 300 * time.Millisecond
	closes := make(chan closeEvent, 4)
	passed := make(chan struct{}, 2)
	e, addr := start(t, Funcs{
		Open: func(c *Conn) { assert.NoError(t, c.SetDeadline(time.Now().Add(d))) },
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			c.Close()
		},
		Close: func(c *Conn, err error) {
			dl := c.aux.deadlines
			assert.False(t, dl.read.Active() || dl.write.Active(), "a deadline timer outlived its connection")
			assert.ErrorIs(t, c.SetReadDeadline(time.Now().Add(d)), ErrClosed)
			assert.ErrorIs(t, c.SetWriteDeadline(time.Now().Add(d)), ErrClosed)
			assert.ErrorIs(t, c.SetDeadline(time.Now().Add(-d)), ErrClosed)
			// Due after the deadlines would have been: once it has run,
			// they had their chance to fire.
			c.Loop().AfterFunc(2*d, func() { passed <- struct{}{} })
			recordCloses(closes)(c, err)
		},
	}, Options{})

	closer := dial(t, addr)
	_, err := closer.Write([]byte("x"))
	require.NoError(t, err)
	assert.True(t, closedWithin(closer, 10*time.Second))
	assert.NoError(t, within(t, closes, 10*time.Second, "no OnClose").err)

	leaver := dial(t, addr)
	require.NoError(t, leaver.Close())
	assert.ErrorIs(t, within(t, closes, 10*time.Second, "no OnClose").err, io.EOF)

	within(t, passed, 10*time.Second, "the timer after the first close did not run")
	within(t, passed, 10*time.Second, "the timer after the second close did not run")
	assert.Empty(t, closes, "a connection closed twice")
	st := e.Stats()
	assert.Zero(t, st.ReadDeadlineClosed)
	assert.Zero(t, st.WriteDeadlineClosed)
	assert.Equal(t, int64(2), st.Closed)
}

// TestDeadlineOffLoop: a goroutine other than the loop sets a deadline
// through Do, as with every Conn method without Async in its name; once c
// is closed the calls return ErrClosed from anywhere, that check being
// all they do then.
func TestDeadlineOffLoop(t *testing.T) {
	conns := make(chan *Conn, 1)
	closes := make(chan closeEvent, 1)
	_, addr := start(t, Funcs{Open: func(c *Conn) { conns <- c }, Close: recordCloses(closes)}, Options{})
	c := dial(t, addr)
	sc := <-conns
	require.NoError(t, sc.Do(func(c *Conn) {
		assert.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	}))
	assert.True(t, closedWithin(c, 10*time.Second))
	assert.ErrorIs(t, within(t, closes, 10*time.Second, "no OnClose").err, ErrReadDeadline)
	assert.ErrorIs(t, sc.SetReadDeadline(time.Now()), ErrClosed)
	assert.ErrorIs(t, sc.SetWriteDeadline(time.Now()), ErrClosed)
	assert.ErrorIs(t, sc.SetDeadline(time.Time{}), ErrClosed)
	assert.ErrorIs(t, sc.Do(func(*Conn) {}), ErrClosed)
}

// TestDeadlineWallClockOnly: a deadline given as a wall-clock time
// without a monotonic reading (time.Date, time.Unix, a decoded time, one
// passed through UTC or Round(0)) is measured against the wall clock when
// it is set, as net measures it, not against the wall clock of when the
// loop started: with the wall clock stepped since (NTP's first sync after
// boot, a resumed VM), one an hour ahead made the deadline an hour late,
// one an hour behind made it pass at once.
func TestDeadlineWallClockOnly(t *testing.T) {
	const d = 200 * time.Millisecond
	for _, step := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(step.String(), func(t *testing.T) {
			// Restored after the engine has stopped (cleanups run last
			// first), so that no loop reads it meanwhile.
			t.Cleanup(func() { wallNow = time.Now })
			wallNow = func() time.Time { return time.Now().Add(step) }
			deadlines := make(chan time.Time, 1)
			closes := make(chan closeEvent, 1)
			_, addr := start(t, Funcs{
				Open: func(c *Conn) {
					at := time.Now().Add(d)
					assert.NoError(t, c.SetReadDeadline(wallNow().Add(d).Round(0)))
					deadlines <- at
				},
				Close: recordCloses(closes),
			}, Options{})
			c := dial(t, addr)
			ev := within(t, closes, 10*time.Second, "the wall-clock deadline did not pass in time")
			assert.ErrorIs(t, ev.err, ErrReadDeadline)
			assert.False(t, ev.at.Before(<-deadlines), "closed before its deadline")
			assert.True(t, closedWithin(c, 10*time.Second))
		})
	}
}

// TestDeadlineClockAtBounds: clockAt keeps a deadline on the loop clock
// between 1 (0 means "not set") and math.MaxInt64, whatever the time:
// the far future of either kind, wall-clock only or monotonic, saturates
// instead of wrapping round to the past, and the distant past is 1.
func TestDeadlineClockAtBounds(t *testing.T) {
	e, _ := start(t, Funcs{}, Options{Loops: 1})
	l := e.Loops()[0]
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // no monotonic reading
	got := make(chan [4]int64, 1)
	require.NoError(t, l.Do(func() {
		got <- [4]int64{
			l.clockAt(far),
			l.clockAt(time.Now().Add(time.Duration(math.MaxInt64))),
			l.clockAt(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)),
			l.clockAt(time.Now().Add(-time.Hour)),
		}
	}))
	at := within(t, got, 10*time.Second, "the loop did not run Do")
	assert.Equal(t, int64(math.MaxInt64), at[0], "far wall-clock future")
	assert.Equal(t, int64(math.MaxInt64), at[1], "far monotonic future")
	assert.Equal(t, int64(1), at[2], "distant wall-clock past")
	assert.Equal(t, int64(1), at[3], "monotonic past")
}
