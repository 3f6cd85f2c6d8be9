package loop

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/evsel/evsel"
)

// SendFile queues n bytes of f, from offset off, after the pending output,
// and returns at once; n < 0 means to the end of the file as it is now. The
// bytes go to the socket as the peer takes them: on Linux on a plaintext
// connection with sendfile(2), which copies nothing through the process (on
// io_uring, while the socket has room; when it is full a send of the next
// 64 KiB waits for it); elsewhere (TLS, other systems) read into the output
// queue a HighWater at a time, so a large file never sits in memory whole.
//
// f may be closed as soon as SendFile returns: up to 16 KiB are read at
// once, like a Write of them, and a larger range keeps a duplicate of f's
// descriptor until it is sent (at most 64 at once per connection and 4,096
// per engine; past that SendFile returns ErrTooManyFiles). f's own offset
// does not move.
// Writes made after SendFile are sent after the file, and Close waits for
// it (within Options.LingerTimeout). The file's unsent bytes count as
// pending output for HighWater: above it the connection is not read, so a
// peer that pipelines requests for large files waits in the kernel's flow
// control. If the file turns out shorter than n, or reading it fails, the
// connection closes with that error (ErrFileShort when it ends early),
// since the peer cannot be told which bytes are missing; a short range
// read at once returns the error instead, with nothing queued.
//
// Reading the file happens on the loop and waits for the disk when the
// bytes are not in the page cache, stalling the loop's other connections for
// that time: send from a file system whose pages are cached, or warm them
// first, where that matters. Writes queued behind a file count against
// MaxOutput with the output ahead of them, but not the file's bytes, so
// the output may pass MaxOutput by up to HighWater once the file is out
// (until it drains, a further Write then closes the connection). On Linux
// sendfile(2) cannot be told not to raise SIGPIPE when the peer has reset
// the connection: a Go program ignores it (the runtime does so for every
// descriptor but standard output and error), but a program built as a C
// archive or library, or one that asked for SIGPIPE with signal.Notify,
// sees it.
func (c *Conn) SendFile(f *os.File, off, n int64) error {
	if c.flags&(flagClosing|flagCloseNow|flagWriteShut) != 0 || c.closed.Load() {
		return ErrClosed
	}
	if off < 0 {
		return fmt.Errorf("loop: SendFile: negative offset %d", off)
	}
	if n < 0 {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		n = max(st.Size()-off, 0)
	}
	if n == 0 {
		return nil
	}
	if n <= sendFileInline {
		// Cheaper than a duplicate descriptor and its sendfile, and it
		// holds no descriptor: a peer pipelining requests for small files
		// cannot make the loop queue thousands of them.
		buf := c.loop.fileBuffer()[:n]
		if m, err := f.ReadAt(buf, off); m < len(buf) {
			if err == nil || err == io.EOF {
				err = ErrFileShort
			}
			return err
		}
		_, err := c.Write(buf)
		return err
	}
	q := c.extra().files
	if q == nil {
		q = &fileQueue{}
	}
	e := c.loop.e
	if q.files >= maxQueuedFiles || e.queuedFiles.Load() >= maxEngineFiles {
		return ErrTooManyFiles
	}
	dup, fd, err := dupFile(f)
	if err != nil {
		return fmt.Errorf("loop: SendFile: %w", err)
	}
	q.items = append(q.items, outItem{file: dup, fd: fd, off: off, remain: n, zeroCopy: zeroCopyFiles && c.flags&flagTLS == 0})
	q.files++
	e.queuedFiles.Add(1)
	c.aux.files = q
	c.flags |= flagFile
	c.markDirty()
	return nil
}

// zeroCopyFiles lets SendFile use sendfile(2); tests turn it off to run
// the copy path where the system has the call.
var zeroCopyFiles = true

// sendFileInline is the most SendFile reads at once instead of queueing
// the file: the size from which Write skips its copy (directWrite).
const sendFileInline = directWrite

// maxQueuedFiles bounds the files one connection has queued, each holding
// a descriptor until it is sent; maxEngineFiles bounds them engine-wide,
// so that peers pipelining requests for large files over many connections
// cannot take the descriptors that accepts need (a variable for its test).
const maxQueuedFiles = 64

var maxEngineFiles int64 = 4096

// ErrTooManyFiles is SendFile's refusal of a file past the 64 a connection,
// or the 4,096 an engine, may have queued; the connection goes on.
var ErrTooManyFiles = errors.New("loop: SendFile: too many files queued (64 on the connection or 4,096 in the engine)")

// ErrFileShort is the reason a connection closes when a file given to
// SendFile ends before the bytes it was to send.
var ErrFileShort = errors.New("loop: SendFile: the file ended early")

// fileQueue is the output that waits behind a SendFile: the files, and what
// was written after each. It exists only while flagFile is set.
type fileQueue struct {
	items []outItem
	bytes int // the written bytes waiting in items, counted in the budget
	files int // the file ranges in items
}

// outItem is a file range still to send, or (file nil) bytes written after
// one.
type outItem struct {
	file     *os.File
	fd       uintptr
	off      int64
	remain   int64
	zeroCopy bool // sendfile(2) until the system says it cannot
	data     []byte
}

// pending is what the queue still has to send, at most math.MaxInt.
func (q *fileQueue) pending() int {
	n := int64(q.bytes)
	for _, it := range q.items {
		n += it.remain
	}
	return int(min(n, math.MaxInt))
}

// queueBehind keeps p, written while a file is being sent, for after it.
func (c *Conn) queueBehind(p []byte) (int, error) {
	q := c.aux.files
	if k := len(q.items); k > 0 && q.items[k-1].file == nil {
		q.items[k-1].data = append(q.items[k-1].data, p...)
	} else {
		q.items = append(q.items, outItem{data: append([]byte(nil), p...)})
	}
	q.bytes += len(p)
	c.markDirty()
	if c.outLen+q.bytes > c.loop.e.opts.MaxOutput {
		c.fail(ErrOutputOverflow)
		return len(p), ErrOutputOverflow
	}
	return len(p), nil
}

// pumpFiles moves the file queue along: it runs from settle, before the
// flush, whenever the connection's state may have changed. It hands the
// output queue the next file bytes once that has drained to LowWater, or
// sends them with sendfile once it is empty, and moves what was written
// after a file into the output queue once the file is all sent. A
// connection with nothing queued behind a file is back to plain output.
func (l *Loop) pumpFiles(c *Conn) {
	q := c.aux.files
	for len(q.items) > 0 {
		it := &q.items[0]
		if it.file == nil {
			q.bytes -= len(it.data)
			c.writeOut(it.data)
		} else if !l.pumpFile(c, it) {
			return
		} else {
			l.closeFile(q, it)
		}
		q.items[0] = outItem{}
		q.items = q.items[1:]
		if c.flags&flagCloseNow != 0 {
			return // failed; finish drops the rest
		}
	}
	c.aux.files = nil
	c.flags &^= flagFile | flagFileWait
	if c.flags&(flagClosing|flagTLS) == flagClosing|flagTLS {
		c.tlsCloseNotify() // held back while the file went out (closeWith)
	}
}

// pumpFile sends what it can of one file range and says whether it is all
// sent or queued.
func (l *Loop) pumpFile(c *Conn, it *outItem) bool {
	if it.zeroCopy {
		if c.outLen > 0 {
			l.flushNow(c)
			if c.outLen > 0 {
				return false // WRITE is watched for the output ahead of it
			}
		}
		c.flags &^= flagFileWait
		for it.remain > 0 {
			n, err := c.sock.TrySendFile(it.fd, it.off, int(min(it.remain, maxSendFile)))
			switch {
			case err == evsel.ErrWouldBlock && l.readiness():
				c.flags |= flagFileWait
				return false
			case err == evsel.ErrWouldBlock:
				// io_uring watches no readiness: a send of the next
				// bytes waits for room in the kernel, and its completion
				// brings the file back here to sendfile the rest.
				return l.copyFile(c, it, fileBufferSize)
			case errors.Is(err, errors.ErrUnsupported):
				it.zeroCopy = false
				return l.pumpFile(c, it)
			case err != nil:
				c.fail(err)
				return false
			case n == 0:
				c.fail(ErrFileShort)
				return false
			}
			c.wrote(n)
			it.off += int64(n)
			it.remain -= int64(n)
		}
		return true
	}
	return l.copyFile(c, it, math.MaxInt)
}

// copyFile is pumpFile's path without sendfile: it reads the file into the
// output once that is down to LowWater, up to HighWater, and at most limit
// bytes in all.
func (l *Loop) copyFile(c *Conn, it *outItem, limit int) bool {
	o := &l.e.opts
	for it.remain > 0 && limit > 0 {
		// Not at HighWater either: LowWater may equal it, and then the
		// output left at HighWater by a full socket or a send in flight
		// would have this loop go round for ever.
		if c.outLen > o.LowWater || c.outLen >= o.HighWater {
			return false // the driver settles c again as the output drains
		}
		buf := l.fileBuffer()
		for it.remain > 0 && c.outLen < o.HighWater && limit > 0 {
			m := int(min(it.remain, int64(len(buf)), int64(o.HighWater-c.outLen), int64(limit)))
			n, err := it.file.ReadAt(buf[:m], it.off)
			if n > 0 {
				c.writeOut(buf[:n])
				it.off += int64(n)
				it.remain -= int64(n)
				limit -= n
			}
			if n < m {
				if err == nil || err == io.EOF {
					err = ErrFileShort
				}
				c.fail(err)
				return false
			}
			if c.flags&flagCloseNow != 0 {
				return false
			}
		}
		l.flushNow(c)
		if c.flags&flagCloseNow != 0 {
			return false
		}
	}
	return it.remain == 0
}

// maxSendFile bounds one sendfile call, as Linux does anyway (0x7ffff000).
const maxSendFile = 1 << 30

// fileBufferSize is the copy path's read size: large enough that a read
// costs little per byte, small enough to stay in a core's cache.
const fileBufferSize = 64 << 10

// fileBuffer is the loop's buffer for the copy path, made on first use:
// the bytes are copied out of it (writeOut) before it is read into again.
func (l *Loop) fileBuffer() []byte {
	if l.fileBuf == nil {
		l.fileBuf = make([]byte, fileBufferSize)
	}
	return l.fileBuf
}

// flushNow is settle's flush, for the file pump.
func (l *Loop) flushNow(c *Conn) {
	if c.flushable() {
		l.drv.flush(c)
	}
}

// writeOut is Write for bytes the connection accepted earlier: they go out
// even when a close has been asked for since, and are not judged against
// MaxOutput again (queueBehind did, without the file's bytes that may be
// in the output by the time they follow it).
func (c *Conn) writeOut(p []byte) {
	if c.flags&flagTLS != 0 {
		_, _ = c.sealTLS(p)
		return
	}
	_, _ = c.writeRaw(p, false)
}

// closeFile closes a file range's descriptor, sent or dropped, and
// uncounts it.
func (l *Loop) closeFile(q *fileQueue, it *outItem) {
	_ = it.file.Close()
	q.files--
	l.e.queuedFiles.Add(-1)
}

// readiness says whether the loop's driver is the readiness one, which
// waits for a full socket by watching WRITE (flagFileWait); the completion
// driver has a send of the next bytes wait for room instead.
func (l *Loop) readiness() bool {
	_, ok := l.drv.(*pollDriver)
	return ok
}

// dropFiles closes the descriptors of a connection's unsent files.
func (c *Conn) dropFiles() {
	if c.aux == nil || c.aux.files == nil {
		return
	}
	q := c.aux.files
	for i := range q.items {
		if q.items[i].file != nil {
			c.loop.closeFile(q, &q.items[i])
		}
	}
	c.aux.files = nil
	c.flags &^= flagFile | flagFileWait
}
