package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evsel/evsel/bench/internal/procinfo"
)

// TestCUringServer checks the C io_uring floor where its design could
// break: many connections at once (one multishot recv each, sharing the
// provided-buffer ring), messages several provided buffers long (one
// message arrives as several completions, the rest appended while the
// first send is in flight), and a peer that writes and never reads, whose
// connection must stop being read once its pending bytes pass the bound,
// then deliver every byte in order once the peer reads. Skipped only
// without gcc or a usable io_uring.
func TestCUringServer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("io_uring is Linux's")
	}
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	if !haveGCC() {
		t.Skip("no gcc: the C io_uring floor cannot be built")
	}
	root, err := benchDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins := t.TempDir()
	if err := probeCUring(ctx, root, bins); err != nil {
		t.Skipf("io_uring not usable here: %v", err)
	}
	h := &harness{opts: &options{serverCores: 1}, bins: bins, logf: t.Logf}
	start := func(t *testing.T) *server {
		srv, err := h.startServer(ctx, cUringProgram, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if srv.exited() {
				t.Errorf("server died: %s", srv.describe())
			}
			srv.stop()
		})
		return srv
	}

	t.Run("many connections", func(t *testing.T) {
		srv := start(t)
		var wg sync.WaitGroup
		for i := range 300 {
			wg.Go(func() {
				if err := echoSized(srv.addr, i, 64, 20); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	})

	t.Run("messages of several buffers", func(t *testing.T) {
		srv := start(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				// 3.5 and 8 provided buffers (8 KiB each) per message.
				if err := echoSized(srv.addr, i, 28<<10, 20); err != nil {
					t.Error(err)
				}
				if err := echoSized(srv.addr, i, 64<<10, 10); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	})

	t.Run("peer that does not read", func(t *testing.T) {
		if !procinfo.Available() {
			t.Skip("needs /proc for the server's RSS")
		}
		srv := start(t)
		before, err := procinfo.Read(srv.pid)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Far more than the socket buffers of both directions hold: the
		// write must stall, and what the server holds must stay bounded.
		const total = 128 << 20
		want := pattern(total)
		c.SetWriteDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Write(want)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("wrote %d of %d bytes to a server whose peer does not read: %v", n, total, err)
		}
		after, err := procinfo.Read(srv.pid)
		if err != nil {
			t.Fatal(err)
		}
		// The provided buffers' pages are touched as the ring cycles
		// through them, whatever the peer does: the bound is them plus
		// the pending bytes (PEND_HIGH, what arrives before the cancel
		// takes effect, the doubling of the pending buffer).
		grew := after.RSS - before.RSS
		t.Logf("the write stalled after %d MiB; server RSS grew %d KiB", n>>20, grew>>10)
		if limit := int64(cUringBufferBytes + 4<<20); grew > limit {
			t.Errorf("server RSS grew %d KiB behind a peer that does not read, over %d KiB: not bounded", grew>>10, limit>>10)
		}
		// Once the peer reads, every byte it wrote comes back in order.
		c.SetDeadline(time.Now().Add(30 * time.Second))
		got := make([]byte, n)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("reading the %d bytes back: %v", n, err)
		}
		if i := firstDiff(got, want[:n]); i >= 0 {
			t.Errorf("echo differs at byte %d", i)
		}
	})

	if kids := children(); len(kids) > 0 {
		t.Errorf("processes left behind: %v", kids)
	}
}

// cUringBufferBytes is the C io_uring server's provided-buffer memory,
// NBUF × BUF_SIZE in cserver/uring_echo.c.
const cUringBufferBytes = 4096 * 8192

// pattern is n bytes that do not repeat at any short period, so a
// dropped, duplicated or reordered buffer shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// echoSized sends rounds request/response messages of size bytes, each
// written whole before its echo is read, and checks every byte.
func echoSized(addr string, id, size, rounds int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	msg := pattern(size + rounds)
	got := make([]byte, size)
	for seq := range rounds {
		want := msg[seq : seq+size]
		copy(want, fmt.Sprintf("conn %d message %d ", id, seq))
		if _, err := c.Write(want); err != nil {
			return fmt.Errorf("conn %d message %d: %w", id, seq, err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("conn %d message %d: %w", id, seq, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("conn %d message %d of %d bytes differs at byte %d", id, seq, size, firstDiff(got, want))
		}
	}
	return nil
}

// TestPerfCheck: without perf the syscalls/msg column is empty, and the
// reason given says so.
func TestPerfCheck(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if why := perfCheck(context.Background()); !strings.Contains(why, "no perf on PATH") {
		t.Errorf("perfCheck without perf = %q", why)
	}
}
