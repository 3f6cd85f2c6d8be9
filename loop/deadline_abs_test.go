package loop

import (
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// closeEvent is one OnClose: the connection, its reason and when.
type closeEvent struct {
	c   *Conn
	err error
	at  time.Time
}

// recordCloses is a Close function that reports each OnClose on ch.
func recordCloses(ch chan<- closeEvent) func(c *Conn, err error) {
	return func(c *Conn, err error) { ch <- closeEvent{c, err, time.Now()} }
}

// onLoopOf runs fn on c's loop and waits for it.
func onLoopOf(t *testing.T, c *Conn, fn func()) {
	t.Helper()
	done := make(chan struct{})
	require.NoError(t, c.Loop().Do(func() { fn(); close(done) }))
	within(t, done, 10*time.Second, "the loop did not run the function")
}

// endsWithin reports whether c's stream ends (its end or a reset) within
// d, whatever bytes come before: a peer that did not read has some
// waiting.
func endsWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	ne, ok := err.(net.Error)
	return !ok || !ne.Timeout()
}

// TestReadDeadlineSilentPeer: a peer that sends nothing is closed once the
// read deadline set in OnOpen passes, never before, gracefully (what was
// written before arrives, then the end of the stream), and OnClose and
// Stats say why.
func TestReadDeadlineSilentPeer(t *testing.T) {
	const d = 200 * time.Millisecond
	deadlines := make(chan time.Time, 1)
	closes := make(chan closeEvent, 1)
	e, addr := start(t, Funcs{
		Open: func(c *Conn) {
			at := time.Now().Add(d)
			assert.NoError(t, c.SetReadDeadline(at))
			c.Write([]byte("hello"))
			deadlines <- at
		},
		Close: recordCloses(closes),
	}, Options{})
	c := dial(t, addr)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err, "a graceful close ends the stream")
	assert.Equal(t, "hello", string(got))

	ev := within(t, closes, 10*time.Second, "no OnClose")
	assert.ErrorIs(t, ev.err, ErrReadDeadline)
	assert.ErrorIs(t, ev.err, os.ErrDeadlineExceeded)
	assert.True(t, IsLimit(ev.err))
	assert.False(t, ev.at.Before(<-deadlines), "closed before its deadline")
	st := e.Stats()
	assert.Equal(t, int64(1), st.ReadDeadlineClosed)
	assert.Zero(t, st.WriteDeadlineClosed)
}

// TestReadDeadlineMovedByData: a handler that moves the deadline on from
// every OnData keeps a chatty peer for several times the deadline, and
// closes it once it falls silent.
func TestReadDeadlineMovedByData(t *testing.T) {
	const d = 500 * time.Millisecond
	closes := make(chan closeEvent, 1)
	_, addr := start(t, Funcs{
		Open: func(c *Conn) { assert.NoError(t, c.SetReadDeadline(time.Now().Add(d))) },
		Data: func(c *Conn) {
			assert.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
		Close: recordCloses(closes),
	}, Options{})
	c := dial(t, addr)
	begin := time.Now()
	var lastSent time.Time // the last deadline was set after this
	for time.Since(begin) < 3*d {
		lastSent = time.Now()
		assert.Equal(t, []byte("ping"), roundTrip(t, c, []byte("ping")))
		time.Sleep(20 * time.Millisecond) // the peer's pace, well within d
	}
	select {
	case ev := <-closes:
		t.Fatalf("closed while the peer talked: %v", ev.err)
	default:
	}
	require.True(t, closedWithin(c, 10*time.Second), "the silent peer stayed open")
	ev := within(t, closes, 10*time.Second, "no OnClose")
	assert.ErrorIs(t, ev.err, ErrReadDeadline)
	// Measured from the last ping's send, before which its OnData cannot
	// have set the deadline: a start taken after the pace's sleep and the
	// scheduler's delays (73 ms in one loaded run) made the close look
	// early.
	assert.GreaterOrEqual(t, ev.at.Sub(lastSent), d-5*time.Millisecond, "closed before the moved deadline")
}

// TestReadDeadlineCleared: a deadline cleared before it passes does
// nothing. The clearing timer is due before the deadline's, so however
// late the loop gets to them it runs first.
func TestReadDeadlineCleared(t *testing.T) {
	conns := make(chan *Conn, 1)
	cleared := make(chan struct{})
	_, addr := start(t, Funcs{
		Open: func(c *Conn) {
			assert.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
			c.Loop().AfterFunc(50*time.Millisecond, func() {
				assert.NoError(t, c.SetReadDeadline(time.Time{}))
				close(cleared)
			})
			conns <- c
		},
		Data: echo.Data,
	}, Options{})
	c := dial(t, addr)
	sc := <-conns
	within(t, cleared, 10*time.Second, "the clearing timer did not run")
	// Past the deadline (a timer due after it has run) the connection
	// still serves.
	passed := make(chan struct{})
	onLoopOf(t, sc, func() { sc.Loop().AfterFunc(300*time.Millisecond, func() { close(passed) }) })
	within(t, passed, 10*time.Second, "the later timer did not run")
	assert.Equal(t, []byte("still"), roundTrip(t, c, []byte("still")))
	onLoopOf(t, sc, func() {
		assert.False(t, sc.aux.deadlines.read.Active())
		assert.Zero(t, sc.Loop().Stats().ReadDeadlineClosed)
	})
}

// TestDeadlinePast: a deadline already past acts once the calling
// callback has returned, not within it: the callback goes on writing, and
// the graceful close sends that.
func TestDeadlinePast(t *testing.T) {
	closes := make(chan closeEvent, 1)
	_, addr := start(t, Funcs{
		Open: func(c *Conn) {
			assert.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Hour)))
			_, err := c.Write([]byte("still open"))
			assert.NoError(t, err, "the deadline acted within the call")
		},
		Close: recordCloses(closes),
	}, Options{})
	c := dial(t, addr)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "still open", string(got))
	assert.ErrorIs(t, within(t, closes, 10*time.Second, "no OnClose").err, ErrReadDeadline)
}

// flooder answers "go" by setting its write deadline d ahead and writing
// n bytes, and "ping" with "pong". Its send buffer is small and fixed, so
// that what a peer that does not read leaves pending does not depend on
// the kernel's buffer autotuning.
func flooder(t *testing.T, d time.Duration, n int, conns chan<- *Conn, closes chan<- closeEvent) Funcs {
	return Funcs{
		Open: func(c *Conn) {
			assert.NoError(t, c.SetWriteBuffer(16<<10))
			conns <- c
		},
		Data: func(c *Conn) {
			in := string(c.Inbound())
			c.Consume(len(in))
			if strings.Contains(in, "go") {
				assert.NoError(t, c.SetWriteDeadline(time.Now().Add(d)))
				c.Write(pattern(n))
			}
			if strings.Contains(in, "ping") {
				c.Write([]byte("pong"))
			}
		},
		Close: recordCloses(closes),
	}
}

// TestWriteDeadline: of two peers given the same output and write
// deadline, the one that does not read is aborted with ErrWriteDeadline
// once it passes, and the one that read everything stays open: with
// nothing pending, the deadline is spent.
func TestWriteDeadline(t *testing.T) {
	const d, n = time.Second, 256 << 10
	conns := make(chan *Conn, 2)
	closes := make(chan closeEvent, 2)
	e, addr := start(t, flooder(t, d, n, conns, closes), Options{})

	reader, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { reader.Close() })
	readerSide := <-conns
	stuck, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { stuck.Close() })
	stuckSide := <-conns

	_, err = stuck.Write([]byte("go"))
	require.NoError(t, err)
	_, err = reader.Write([]byte("go"))
	require.NoError(t, err)
	require.NoError(t, reader.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, n)
	_, err = io.ReadFull(reader, got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(pattern(n), got))

	ev := within(t, closes, 10*time.Second, "the peer that does not read was not closed")
	assert.Same(t, stuckSide, ev.c)
	assert.ErrorIs(t, ev.err, ErrWriteDeadline)
	assert.ErrorIs(t, ev.err, os.ErrDeadlineExceeded)
	assert.True(t, endsWithin(stuck, 10*time.Second))

	// The reader's deadline has passed too once the loop has spent it.
	waitFor(t, "the reader's deadline to be spent", func() bool {
		spent := false
		onLoopOf(t, readerSide, func() { spent = readerSide.aux.deadlines.writeAt == 0 })
		return spent
	})
	assert.Equal(t, []byte("pong"), roundTrip(t, reader, []byte("ping")))
	st := e.Stats()
	assert.Equal(t, int64(1), st.WriteDeadlineClosed)
	assert.Zero(t, st.ReadDeadlineClosed)
}

// TestSetDeadline: SetDeadline sets both; when both pass at once the
// write deadline is judged first, so a peer that sent nothing is closed
// for reading, and one that sent a request and does not take the answer
// for writing, though its read deadline passed at the same time.
func TestSetDeadline(t *testing.T) {
	const d = 200 * time.Millisecond
	closes := make(chan closeEvent, 2)
	e, addr := start(t, Funcs{
		Open: func(c *Conn) {
			assert.NoError(t, c.SetWriteBuffer(16<<10))
			assert.NoError(t, c.SetDeadline(time.Now().Add(time.Second)))
		},
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			c.SetData("stuck")
			assert.NoError(t, c.SetDeadline(time.Now().Add(d)))
			c.Write(pattern(256 << 10))
		},
		Close: recordCloses(closes),
	}, Options{})

	silent := dial(t, addr)
	stuck, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { stuck.Close() })
	_, err = stuck.Write([]byte("go"))
	require.NoError(t, err)

	reasons := map[any]error{} // by Data: nil for the silent peer
	for range 2 {
		ev := within(t, closes, 10*time.Second, "a peer was not closed")
		reasons[ev.c.Data()] = ev.err
	}
	assert.ErrorIs(t, reasons[nil], ErrReadDeadline)
	assert.ErrorIs(t, reasons["stuck"], ErrWriteDeadline)
	assert.NotErrorIs(t, reasons["stuck"], ErrReadDeadline)
	assert.True(t, closedWithin(silent, 10*time.Second))
	assert.True(t, endsWithin(stuck, 10*time.Second))
	st := e.Stats()
	assert.Equal(t, int64(1), st.ReadDeadlineClosed)
	assert.Equal(t, int64(1), st.WriteDeadlineClosed)
}
