package loop

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPauseReading: a paused connection gets no OnData and is not read,
// so the peer's writes stop at the kernel's buffers; resumed, every byte
// arrives in order, the ones received while the pause took effect first.
func TestPauseReading(t *testing.T) {
	const size = 32 << 20 // more than the socket buffers hold (set small below)
	var mu sync.Mutex
	var got bytes.Buffer
	var calls atomic.Int64
	paused := make(chan *Conn, 1)
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		calls.Add(1)
		mu.Lock()
		got.Write(c.Inbound())
		mu.Unlock()
		c.Consume(len(c.Inbound()))
		if !c.ReadingPaused() && calls.Load() == 1 {
			c.PauseReading()
			paused <- c
		}
	}}, Options{Loops: 1, SocketReadBuffer: 64 << 10})
	client := dial(t, addr)
	// The client's send buffer small too: the paused server's receive
	// buffer and it cannot take the 32 MiB whatever the system's defaults.
	require.NoError(t, client.(*net.TCPConn).SetWriteBuffer(64<<10))
	want := pattern(size)
	_, err := client.Write(want[:1])
	require.NoError(t, err)
	sc := <-paused

	wrote := make(chan error, 1)
	go func() {
		client.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, err := client.Write(want[1:])
		wrote <- err
	}()
	time.Sleep(300 * time.Millisecond)
	assert.EqualValues(t, 1, calls.Load(), "OnData while paused")
	select {
	case err := <-wrote:
		t.Fatalf("the peer wrote all %d bytes to a paused connection (%v)", size, err)
	default:
	}

	require.NoError(t, sc.Do(func(c *Conn) {
		assert.True(t, c.ReadingPaused())
		c.ResumeReading()
		assert.False(t, c.ReadingPaused())
	}))
	require.NoError(t, <-wrote)
	waitFor(t, "every byte", func() bool { mu.Lock(); defer mu.Unlock(); return got.Len() == size })
	mu.Lock()
	defer mu.Unlock()
	assert.True(t, bytes.Equal(want, got.Bytes()), "bytes lost or reordered")
}

// TestNotifyDrained: OnDrained comes once per NotifyDrained, when the
// output is at LowWater: not while the peer does not read, at the end of
// the callback when nothing is pending, and never for a connection that
// closes first.
func TestNotifyDrained(t *testing.T) {
	const big = 16 << 20
	const low = 64 << 10
	var drained atomic.Int64
	var buffered atomic.Int64
	_, addr := start(t, Funcs{
		Open: func(c *Conn) { c.Write(make([]byte, big)); c.NotifyDrained() },
		Data: func(c *Conn) {
			switch string(c.Inbound()) {
			case "again": // nothing pending: at once
				c.NotifyDrained()
				c.NotifyDrained() // one call is as good as two
			case "close":
				c.Write(make([]byte, big))
				c.NotifyDrained()
				c.Close()
			}
			c.Consume(len(c.Inbound()))
		},
		Drained: func(c *Conn) {
			buffered.Store(int64(c.Buffered()))
			drained.Add(1)
		},
	}, Options{Loops: 1, HighWater: 256 << 10, LowWater: low, SocketWriteBuffer: smallSendBuffer})
	// A small receive buffer too: the kernel cannot take the 16 MiB, and
	// the output stays above LowWater while the client reads nothing,
	// whatever the system's defaults.
	client := dialSmall(t, addr)
	client.SetDeadline(time.Now().Add(20 * time.Second))
	time.Sleep(200 * time.Millisecond)
	assert.EqualValues(t, 0, drained.Load(), "drained while the peer reads nothing")
	_, err := io.ReadFull(client, make([]byte, big))
	require.NoError(t, err)
	waitFor(t, "OnDrained", func() bool { return drained.Load() == 1 })
	assert.LessOrEqual(t, buffered.Load(), int64(low))

	_, err = client.Write([]byte("again"))
	require.NoError(t, err)
	waitFor(t, "OnDrained with nothing pending", func() bool { return drained.Load() == 2 })

	_, err = client.Write([]byte("close"))
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, client)
	require.NoError(t, err)
	assert.EqualValues(t, big, n)
	time.Sleep(50 * time.Millisecond)
	assert.EqualValues(t, 2, drained.Load(), "OnDrained for a closing connection")
}

// TestProxyFlowControl: a proxy that pauses the client while the backend
// is over HighWater, and resumes it in the backend's OnDrained, relays
// 16 MiB to a backend that reads slowly holding a bounded amount, every
// byte in order. Without the pause it buffered what the client sent, up
// to MaxOutput, which closed the backend.
func TestProxyFlowControl(t *testing.T) {
	const size = 16 << 20
	const high = 256 << 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	received := make(chan []byte, 1)
	small := make(chan struct{}) // closed once the backend's buffer is set
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(small)
			received <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		// Small kernel buffers: what they absorb does not depend on the
		// host's autotuning, so the proxy falls behind on every host. Set
		// before the client sends: a window the kernel has offered, from
		// the system's default, is not taken back.
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		close(small)
		var all bytes.Buffer
		buf := make([]byte, 64<<10)
		for all.Len() < size {
			n, err := c.Read(buf)
			all.Write(buf[:n])
			if err != nil {
				break
			}
			time.Sleep(4 * time.Millisecond) // a slow consumer: 16 MB/s at most, slower than the proxy even under Wine
		}
		received <- all.Bytes()
	}()

	type side struct{ other *Conn }
	var pauses atomic.Int64
	e, addr := start(t, Funcs{
		Open: func(c *Conn) {
			if _, ok := c.Data().(*side); ok {
				return // the backend, dialed below
			}
			up, err := c.Loop().Engine().Dial(context.Background(), "tcp", ln.Addr().String(),
				WithLoop(c.Loop()), WithData(&side{other: c}))
			if err != nil {
				c.CloseWithError(err)
				return
			}
			c.SetData(&side{other: up})
		},
		Data: func(c *Conn) {
			other := c.Data().(*side).other
			other.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
			if other.Buffered() > high && !c.ReadingPaused() {
				pauses.Add(1)
				c.PauseReading()
				other.NotifyDrained()
			}
		},
		Drained: func(c *Conn) { c.Data().(*side).other.ResumeReading() },
		Close: func(c *Conn, err error) {
			if s, ok := c.Data().(*side); ok {
				s.other.Close()
			}
		},
	}, Options{Loops: 1, HighWater: high, MaxOutput: 8 << 20, SocketWriteBuffer: 64 << 10})

	want := pattern(size)
	client := dial(t, addr)
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h := e.Stats().MemoryHeld; h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	<-small // the proxy dialed the backend at the client's accept
	client.SetDeadline(time.Now().Add(60 * time.Second))
	_, err = client.Write(want)
	require.NoError(t, err)
	require.NoError(t, client.(*net.TCPConn).CloseWrite())
	got := <-received
	close(stopSampling)
	<-sampled
	t.Logf("paused %d times; proxy held at most %d KiB", pauses.Load(), peak.Load()>>10)
	require.Len(t, got, size)
	assert.True(t, bytes.Equal(want, got), "bytes lost or reordered")
	assert.Positive(t, pauses.Load(), "the backend never fell behind: the test proves nothing")
	// The backend's output: HighWater and the read (64 KiB by default)
	// that took it past; the client's input received while the pause took
	// effect: on io_uring, up to a multishot receive's limit (what the
	// connection may queue before HighWater), else a read.
	assert.LessOrEqual(t, peak.Load(), int64(2*high+2*(64<<10)))
}

// halfCloser is a client that can end its side: a TCP connection (FIN)
// or a TLS one (close_notify).
type halfCloser interface {
	Write([]byte) (int, error)
	CloseWrite() error
}

// startPlainOrTLS starts a one-loop server with h, over TLS if secure,
// and returns how to dial it.
func startPlainOrTLS(t *testing.T, h Handler, secure bool) func() halfCloser {
	if secure {
		_, addr := startTLS(t, h, Options{Loops: 1}, getPKI(t).serverConfig())
		return func() halfCloser { return dialTLS(t, addr, getPKI(t).clientConfig()) }
	}
	_, addr := start(t, h, Options{Loops: 1})
	return func() halfCloser { return dial(t, addr).(*net.TCPConn) }
}

// TestPauseReadingKeepsTheEnd: input and the stream's end that come past
// a pause (the completion driver's receive in flight when it began, the
// records crypto/tls decrypted after the callback that paused) wait for
// ResumeReading; then OnData gets every byte and OnClose follows with the
// end's own reason. The end closed the connection at once, dropping the
// input the handler had not seen.
func TestPauseReadingKeepsTheEnd(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "TLS"}[secure], func(t *testing.T) {
			type result struct {
				got    string
				reason error
			}
			results := make(chan result, 1)
			h := Funcs{
				Data: func(c *Conn) {
					got, _ := c.Data().(string)
					first := got == ""
					c.SetData(got + string(c.Inbound()))
					c.Consume(len(c.Inbound()))
					if first {
						c.PauseReading()
						c.Loop().AfterFunc(50*time.Millisecond, c.ResumeReading)
					}
				},
				Close: func(c *Conn, err error) {
					got, _ := c.Data().(string)
					results <- result{got, err}
				},
			}
			dialHalf := startPlainOrTLS(t, h, secure)
			for i := range 20 {
				w := dialHalf()
				for _, part := range []string{"first ", "second ", "third"} {
					_, err := w.Write([]byte(part))
					require.NoError(t, err)
				}
				require.NoError(t, w.CloseWrite()) // a FIN, or close_notify
				select {
				case r := <-results:
					assert.Equal(t, "first second third", r.got, "round %d", i)
					assert.Equal(t, io.EOF, r.reason, "round %d", i)
				case <-time.After(10 * time.Second):
					t.Fatalf("round %d: no OnClose", i)
				}
			}
		})
	}
}

// TestPauseReadingCloseWhileHeld: a handler that closes a paused
// connection instead of resuming it gets nil in OnClose, whether or not
// the stream's end came meanwhile (held, unseen by the handler).
func TestPauseReadingCloseWhileHeld(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "TLS"}[secure], func(t *testing.T) {
			reasons := make(chan error, 1)
			h := Funcs{
				Data: func(c *Conn) {
					if !c.ReadingPaused() {
						c.PauseReading()
						c.Loop().AfterFunc(50*time.Millisecond, func() { c.Close() })
					}
				},
				Close: func(c *Conn, err error) { reasons <- err },
			}
			dialHalf := startPlainOrTLS(t, h, secure)
			for i := range 10 {
				w := dialHalf()
				_, err := w.Write([]byte("data"))
				require.NoError(t, err)
				require.NoError(t, w.CloseWrite())
				select {
				case err := <-reasons:
					assert.NoError(t, err, "round %d", i)
				case <-time.After(10 * time.Second):
					t.Fatalf("round %d: no OnClose", i)
				}
			}
		})
	}
}

// TestPauseReadingInOnOpenTLS: a TLS connection paused in OnOpen whose
// peer sent its data, then close_notify or only a FIN, before the server
// had finished its handshake gets the data and the end's own reason once
// resumed. The FIN that came during the handshake closed it at once,
// dropping the data and calling a close_notify a truncation.
func TestPauseReadingInOnOpenTLS(t *testing.T) {
	for _, notify := range []bool{true, false} {
		name, want := "close_notify", error(io.EOF)
		if !notify {
			name, want = "FIN only", ErrTLSNoCloseNotify
		}
		t.Run(name, func(t *testing.T) {
			type result struct {
				got    string
				reason error
			}
			results := make(chan result, 1)
			h := Funcs{
				Open: func(c *Conn) {
					c.PauseReading()
					c.Loop().AfterFunc(100*time.Millisecond, c.ResumeReading)
				},
				Data: func(c *Conn) {
					got, _ := c.Data().(string)
					c.SetData(got + string(c.Inbound()))
					c.Consume(len(c.Inbound()))
				},
				Close: func(c *Conn, err error) { got, _ := c.Data().(string); results <- result{got, err} },
			}
			cfg := getPKI(t).serverConfig().Clone()
			// The server waits after its flight, before it reads the
			// client's Finished: the client's data and end come meanwhile.
			cfg.VerifyConnection = func(tls.ConnectionState) error { time.Sleep(300 * time.Millisecond); return nil }
			_, addr := startTLS(t, h, Options{Loops: 1}, cfg)
			raw := dial(t, addr)
			tc := tls.Client(raw, getPKI(t).clientConfig())
			require.NoError(t, tc.Handshake())
			_, err := tc.Write([]byte("hello"))
			require.NoError(t, err)
			if notify {
				require.NoError(t, tc.CloseWrite())
			}
			require.NoError(t, raw.(*net.TCPConn).CloseWrite())
			select {
			case r := <-results:
				assert.Equal(t, "hello", r.got, "plaintext lost")
				assert.Equal(t, want, r.reason)
			case <-time.After(10 * time.Second):
				t.Fatal("no OnClose")
			}
		})
	}
}

// TestPauseReadingDuringHandshake: a dialed TLS connection paused before
// its handshake is done still completes it (the pause begins at OnOpen),
// and gets no OnData until resumed.
func TestPauseReadingDuringHandshake(t *testing.T) {
	p := getPKI(t)
	_, addr := startTLS(t, Funcs{Open: func(c *Conn) { c.Write([]byte("greeting")) }}, Options{Loops: 1}, p.serverConfig())
	e := newClientEngine(t)
	opened := make(chan bool, 1)
	var data atomic.Int64
	got := make(chan string, 1)
	e.h.(*switchHandler).set(Funcs{
		Open: func(c *Conn) { opened <- c.ReadingPaused() },
		Data: func(c *Conn) {
			data.Add(1)
			got <- string(c.Inbound())
			c.Consume(len(c.Inbound()))
		},
	})
	dialed := make(chan *Conn, 1)
	require.NoError(t, e.Loops()[0].Do(func() {
		c, err := e.Dial(context.Background(), "tcp", addr, WithTLS(p.clientConfig()))
		if assert.NoError(t, err) {
			c.PauseReading() // connecting: the handshake is still to come
			dialed <- c
		}
	}))
	c := <-dialed
	select {
	case paused := <-opened:
		assert.True(t, paused, "the pause was lost at OnOpen")
	case <-time.After(10 * time.Second):
		t.Fatal("the handshake did not finish while paused")
	}
	time.Sleep(100 * time.Millisecond)
	assert.Zero(t, data.Load(), "OnData while paused")
	require.NoError(t, c.Do(func(c *Conn) { c.ResumeReading() }))
	select {
	case s := <-got:
		assert.Equal(t, "greeting", s)
	case <-time.After(10 * time.Second):
		t.Fatal("no OnData after ResumeReading")
	}
}

// TestPauseReadingPastMaxInput: what the completion driver's receive
// brings past a pause is not held against MaxInput before the handler has
// seen it (it closed the connection with ErrInputOverflow, blaming the
// peer, when MaxInput was below HighWater).
func TestPauseReadingPastMaxInput(t *testing.T) {
	reasons := make(chan error, 1)
	_, addr := start(t, Funcs{
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			if !c.ReadingPaused() {
				c.PauseReading()
				c.Loop().AfterFunc(5*time.Millisecond, c.ResumeReading)
			}
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{Loops: 1, MaxInput: 32 << 10})
	client := dial(t, addr)
	client.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		client.Write(make([]byte, 2<<20))
		client.(*net.TCPConn).CloseWrite()
	}()
	select {
	case err := <-reasons:
		assert.Equal(t, io.EOF, err)
	case <-time.After(15 * time.Second):
		t.Fatal("no OnClose")
	}
}

// TestNotifyDrainedFromOnDrained: a handler that asks again from
// OnDrained, with nothing to send, gets one OnDrained per iteration and
// the loop keeps polling; the calls followed each other within one
// iteration for ever, starving every other connection and timer.
func TestNotifyDrainedFromOnDrained(t *testing.T) {
	const n = 1000
	calls, iterations := 0, map[int64]bool{}
	done := make(chan struct{})
	_, addr := start(t, Funcs{
		Open: func(c *Conn) { c.NotifyDrained() },
		Drained: func(c *Conn) {
			calls++
			iterations[c.Loop().clock] = true
			if calls < n {
				c.NotifyDrained()
			} else {
				close(done)
			}
		},
	}, Options{Loops: 1})
	dial(t, addr)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnDrained")
	}
	assert.Len(t, iterations, n, "OnDrained twice in one iteration")
}

// TestWakeWhilePaused: a Wake that comes while reading is paused is not
// lost: its OnData follows ResumeReading.
func TestWakeWhilePaused(t *testing.T) {
	var calls atomic.Int64
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		if calls.Add(1) > 1 {
			// Checked on the loop, as the call is made: the Wake's OnData
			// comes only once reading has resumed.
			assert.False(t, c.ReadingPaused(), "OnData while paused")
			return
		}
		c.Consume(len(c.Inbound()))
		c.PauseReading()
		go func() {
			time.Sleep(20 * time.Millisecond)
			c.Wake()
			// Tasks run in order: the Wake is seen while paused, and the
			// resume comes a few iterations later.
			c.Do(func(c *Conn) { c.Loop().AfterFunc(20*time.Millisecond, c.ResumeReading) })
		}()
	}}, Options{Loops: 1})
	_, err := dial(t, addr).Write([]byte("x"))
	require.NoError(t, err)
	waitFor(t, "the Wake's OnData", func() bool { return calls.Load() == 2 })
}

// TestNotifyDrainedWithoutDrainHandler: NotifyDrained on an engine whose
// handler has no OnDrained says so in the log, once, rather than leave a
// proxy paused in silence.
func TestNotifyDrainedWithoutDrainHandler(t *testing.T) {
	logs := &messageCounter{want: "loop: NotifyDrained needs a Handler with OnDrained"}
	opened := make(chan struct{}, 4)
	h := &switchHandler{h: Funcs{Open: func(c *Conn) {
		c.NotifyDrained()
		opened <- struct{}{}
	}}} // switchHandler has no OnDrained
	_, addr := start(t, h, Options{Loops: 1, Logger: slog.New(logs)})
	for range 3 {
		dial(t, addr)
		<-opened
	}
	waitFor(t, "the log line", func() bool { return logs.count.Load() > 0 })
	time.Sleep(50 * time.Millisecond)
	assert.EqualValues(t, 1, logs.count.Load(), "logged more than once")
}

// messageCounter is a slog.Handler counting the records with one message.
type messageCounter struct {
	want  string
	count atomic.Int64
}

func (m *messageCounter) Enabled(context.Context, slog.Level) bool { return true }
func (m *messageCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, m.want) {
		m.count.Add(1)
	}
	return nil
}
func (m *messageCounter) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *messageCounter) WithGroup(string) slog.Handler      { return m }
