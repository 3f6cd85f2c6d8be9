package loop

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel/internal/sockettest"
)

// testFile writes pattern(n) to a temporary file and opens it. Not in
// t.TempDir: under Wine the directory's removal fails ("Invalid function"
// from unlinkat) where os.Remove of the file works.
func testFile(t *testing.T, n int) (*os.File, []byte) {
	t.Helper()
	content := pattern(n)
	w, err := os.CreateTemp("", "evsel-sendfile-")
	require.NoError(t, err)
	t.Cleanup(func() { os.Remove(w.Name()) })
	_, err = w.Write(content)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	f, err := os.Open(w.Name())
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, content
}

// fileServer answers every request line with "<", the file's bytes from off
// (n of them), then ">"; "bye" closes after what is queued. The file is
// closed by the test's cleanup only, so the engine's own descriptor is
// what is read.
func fileServer(t *testing.T, f *os.File, off, n int64, reasons chan<- error) Funcs {
	return Funcs{
		Data: func(c *Conn) {
			for {
				in := c.Inbound()
				i := bytes.IndexByte(in, '\n')
				if i < 0 {
					return
				}
				line := string(in[:i])
				c.Consume(i + 1)
				if line == "bye" {
					c.Close()
					return
				}
				c.Write([]byte("<"))
				if err := c.SendFile(f, off, n); err != nil {
					t.Errorf("SendFile: %v", err)
				}
				c.Write([]byte(">"))
			}
		},
		Close: func(c *Conn, err error) {
			if reasons != nil {
				reasons <- err
			}
		},
	}
}

// readAll reads until EOF, failing the test past its deadline.
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	return got
}

// TestSendFile: three pipelined requests, each answered with bytes, a file
// larger than HighWater and the socket's buffers, and bytes written after
// it; a client that starts reading late, so the server meets a full
// socket; then a close, which waits for all of it. Every byte arrives once
// and in order.
func TestSendFile(t *testing.T) {
	f, content := testFile(t, 3<<20+123)
	reasons := make(chan error, 1)
	// Small socket buffers: the server meets a full socket whatever the
	// system's defaults.
	_, addr := start(t, fileServer(t, f, 0, -1, reasons), Options{HighWater: 256 << 10, SocketWriteBuffer: smallSendBuffer})
	c := dialSmall(t, addr)
	_, err := c.Write([]byte("a\nb\nc\nbye\n"))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the socket fills; the server waits to write
	got := readAll(t, c)
	want := bytes.Repeat(append(append([]byte("<"), content...), '>'), 3)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want, got), "the bytes differ from what was sent")
	require.NoError(t, <-reasons)
}

// TestSendFileCopyPath: TestSendFile on the path that reads the file into
// the output, which TLS and systems without sendfile take, with plaintext
// on every driver.
func TestSendFileCopyPath(t *testing.T) {
	zeroCopyFiles = false
	defer func() { zeroCopyFiles = true }()
	TestSendFile(t)
}

// TestSendFileRange sends parts of a file, queued (past 16 KiB) and read
// at once (up to 16 KiB), in order with the writes around them, and n < 0
// from an offset to the end; the file's own offset does not move.
func TestSendFileRange(t *testing.T) {
	f, content := testFile(t, 200_000)
	_, err := f.Seek(10, io.SeekStart)
	require.NoError(t, err)
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		c.Consume(len(c.Inbound()))
		assert.NoError(t, c.SendFile(f, 1000, 50_000)) // queued
		assert.NoError(t, c.SendFile(f, 7, 100))       // read at once, kept behind
		assert.NoError(t, c.SendFile(f, 190_000, -1))  // read at once, to the end
		assert.NoError(t, c.SendFile(f, 100_000, -1))  // queued, to the end
		assert.NoError(t, c.SendFile(f, 200_000, -1))  // nothing: at the end
		assert.GreaterOrEqual(t, int64(c.Buffered()), 160_100-c.Loop().Stats().BytesOut)
		c.Write([]byte("!"))
		c.Close()
		assert.ErrorIs(t, c.SendFile(f, 0, 1), ErrClosed)
	}}, Options{})
	c := dial(t, addr)
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	got := readAll(t, c)
	var want []byte
	want = append(want, content[1000:51_000]...)
	want = append(want, content[7:107]...)
	want = append(want, content[190_000:]...)
	want = append(want, content[100_000:]...)
	want = append(want, '!')
	require.True(t, bytes.Equal(want, got), "got %d bytes, want %d", len(got), len(want))
	pos, err := f.Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	require.EqualValues(t, 10, pos)
}

// TestSendFileLimits: a range read at once that the file cannot fill is
// refused with ErrFileShort and nothing sent; past 64 queued files
// SendFile refuses with ErrTooManyFiles; the connection goes on, and once
// the files are out it takes more.
func TestSendFileLimits(t *testing.T) {
	f, content := testFile(t, 20_000)
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		for _, b := range c.Inbound() {
			switch b {
			case 's':
				assert.ErrorIs(t, c.SendFile(f, 19_990, 20), ErrFileShort)
			case 'm':
				var err error
				for i := 0; err == nil; i++ {
					if err = c.SendFile(f, 0, -1); err != nil {
						assert.ErrorIs(t, err, ErrTooManyFiles)
						assert.Equal(t, maxQueuedFiles, i)
					}
				}
			case 'o':
				assert.NoError(t, c.SendFile(f, 0, -1))
			}
			c.Write([]byte{b})
		}
		c.Consume(len(c.Inbound()))
	}}, Options{})
	c := dial(t, addr)
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err := c.Write([]byte("sm"))
	require.NoError(t, err)
	want := append([]byte("s"), bytes.Repeat(content, maxQueuedFiles)...)
	want = append(want, 'm')
	got := make([]byte, len(want))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "the bytes differ from what was sent")
	_, err = c.Write([]byte("o"))
	require.NoError(t, err)
	got = make([]byte, len(content)+1)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(append(content, 'o'), got))
}

// TestSendFileClosedByCaller: the caller may close its file as soon as
// SendFile returns.
func TestSendFileClosedByCaller(t *testing.T) {
	f, content := testFile(t, 200_000)
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		c.Consume(len(c.Inbound()))
		g, err := os.Open(f.Name())
		assert.NoError(t, err)
		assert.NoError(t, c.SendFile(g, 0, -1))
		assert.NoError(t, g.Close())
		c.Close()
	}}, Options{})
	c := dial(t, addr)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	require.Equal(t, content, readAll(t, c))
}

// TestSendFileShort: a file shorter than the count asked for closes the
// connection with ErrFileShort after the bytes it has.
func TestSendFileShort(t *testing.T) {
	f, content := testFile(t, 70_000)
	reasons := make(chan error, 1)
	_, addr := start(t, fileServer(t, f, 0, 100_000, reasons), Options{})
	c := dial(t, addr)
	_, err := c.Write([]byte("a\n"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
	got, _ := io.ReadAll(c) // an error too where the close resets
	require.LessOrEqual(t, len(got), 1+len(content))
	require.Equal(t, append([]byte("<"), content...)[:len(got)], got)
	require.ErrorIs(t, <-reasons, ErrFileShort)
}

// TestSendFileAbort: a peer that never reads, then Abort: the connection
// goes at once with its queued files (the leak check sees their
// descriptors closed).
func TestSendFileAbort(t *testing.T) {
	f, _ := testFile(t, 4<<20)
	reasons := make(chan error, 1)
	conns := make(chan *Conn, 1)
	_, addr := start(t, Funcs{
		Data: func(c *Conn) {
			c.Consume(len(c.Inbound()))
			assert.NoError(t, c.SendFile(f, 0, -1))
			assert.NoError(t, c.SendFile(f, 0, -1))
			c.Write([]byte("after"))
			conns <- c
		},
		Close: func(c *Conn, err error) { reasons <- err },
	}, Options{SocketWriteBuffer: smallSendBuffer}) // the kernel takes little of the first file
	c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	sc := <-conns
	// A byte read is the file going out; the engine's own counters may
	// lag it on io_uring, where a send counts when its completion is seen.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err)
	require.NoError(t, sc.Do(func(c *Conn) {
		assert.Greater(t, c.Buffered(), 4<<20) // the second file is still queued
		c.Abort(nil)
	}))
	require.NoError(t, <-reasons)
}

// TestSendFileTLS: over TLS the file is encrypted like any output, and the
// close_notify of a Close follows it.
func TestSendFileTLS(t *testing.T) {
	f, content := testFile(t, 1<<20+77)
	pki := getPKI(t)
	_, addr := startTLS(t, fileServer(t, f, 0, -1, nil), Options{HighWater: 128 << 10}, pki.serverConfig())
	c := dialTLS(t, addr, pki.clientConfig())
	_, err := c.Write([]byte("a\nbye\n"))
	require.NoError(t, err)
	got := readAllTLS(t, c)
	want := append(append([]byte("<"), content...), '>')
	require.True(t, bytes.Equal(want, got), "got %d bytes, want %d", len(got), len(want))
}

// readAllTLS reads to a close_notify: io.ReadAll fails on a TCP close
// without one.
func readAllTLS(t *testing.T, c *tls.Conn) []byte {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	return got
}

// TestSendFileStop: Stop lets a file in progress go out.
func TestSendFileStop(t *testing.T) {
	f, content := testFile(t, 2<<20)
	started := make(chan struct{})
	e, addr := start(t, Funcs{Data: func(c *Conn) {
		c.Consume(len(c.Inbound()))
		assert.NoError(t, c.SendFile(f, 0, -1))
		close(started)
	}}, Options{})
	c := dial(t, addr)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	<-started
	stopped := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx) // the cleanup's stop checks it
		close(stopped)
	}()
	require.Equal(t, content, readAll(t, c))
	<-stopped
}

// TestSendFileKeepsReading: a file whose bytes are under HighWater does
// not stop the connection's reads, so a client that uploads before it
// reads what comes back is not deadlocked, as it would be if reading
// waited for the file (small socket buffers make the upload outgrow
// them).
func TestSendFileKeepsReading(t *testing.T) {
	f, content := testFile(t, 600_000)
	const upload = 4 << 20
	received := 0
	_, addr := start(t, Funcs{Data: func(c *Conn) {
		in := c.Inbound()
		if received == 0 {
			assert.NoError(t, c.SendFile(f, 0, -1))
		}
		received += len(in)
		c.Consume(len(in))
		if received == upload {
			c.Write([]byte("done"))
		}
	}}, Options{Loops: 1, SocketReadBuffer: 64 << 10, SocketWriteBuffer: 64 << 10})
	c := dial(t, addr)
	require.NoError(t, c.(*net.TCPConn).SetWriteBuffer(64<<10))
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err := c.Write(make([]byte, upload))
	require.NoError(t, err, "the upload stalled")
	got := make([]byte, len(content)+4)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(append(content, "done"...), got))
}

// TestSendFileEngineBound: the files queued on all connections together
// are bounded too (maxEngineFiles, lowered here to 3): past it SendFile
// refuses with ErrTooManyFiles on any connection, and a connection that
// goes gives its files' share back. The peers never read, and small
// socket buffers keep the files queued whatever the host's autotuning.
func TestSendFileEngineBound(t *testing.T) {
	defer func(n int64) { maxEngineFiles = n }(maxEngineFiles)
	maxEngineFiles = 3
	f, _ := testFile(t, 4<<20)
	results := make(chan error, 8) // one per request byte
	conns := make(chan *Conn, 3)   // one per connection
	e, addr := start(t, Funcs{Data: func(c *Conn) {
		if c.Data() == nil {
			c.SetData(true)
			conns <- c
		}
		for range c.Inbound() {
			results <- c.SendFile(f, 0, -1)
		}
		c.Consume(len(c.Inbound()))
	}}, Options{Loops: 1, SocketWriteBuffer: 64 << 10})
	ask := func(n int) []error {
		c, err := sockettest.SmallBufferDialer().Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = c.Write(bytes.Repeat([]byte("x"), n))
		require.NoError(t, err)
		errs := make([]error, n)
		for i := range errs {
			errs[i] = <-results
		}
		return errs
	}
	assert.Equal(t, []error{nil, nil}, ask(2))
	first := <-conns
	errs := ask(2)
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], ErrTooManyFiles)
	assert.EqualValues(t, 3, e.queuedFiles.Load())

	require.NoError(t, first.Do(func(c *Conn) { c.Abort(nil) }))
	waitFor(t, "the aborted connection's files given back", func() bool { return e.queuedFiles.Load() == 1 })
	assert.Equal(t, []error{nil}, ask(1))
}
