package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evsel/evsel/bench/internal/report"
)

func haveGCC() bool {
	_, err := exec.LookPath("gcc")
	return err == nil
}

// TestPeerServers builds the reference servers that are not evsel's nor
// the standard library's, nbio's, the Go floor and the C floors (skipped without gcc;
// the io_uring one also without a usable io_uring), and checks each echoes
// correctly: small messages on several
// connections, and 32 MiB written before a byte is read back (more than
// loopback's socket buffers hold both ways, ~20 MiB), so the
// server meets a peer that does not read and must hold the rest (the C
// server's pending buffer, the Go floor's too) until it does.
func TestPeerServers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the C floor is epoll's, and the harness runs on Linux")
	}
	if testing.Short() {
		t.Skip("builds servers")
	}
	root, err := benchDir()
	if err != nil {
		t.Fatal(err)
	}
	progs := []string{"echo-nbio", "echo-go-epoll"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins := t.TempDir()
	if haveGCC() {
		progs = append(progs, cProgram)
		if err := probeCUring(ctx, root, bins); err == nil {
			progs = append(progs, cUringProgram)
		} else {
			t.Logf("the C io_uring floor is not tested: %v", err)
		}
	} else {
		t.Log("no gcc: the C floors are not tested")
	}
	if err := build(ctx, root, bins, progs, ""); err != nil {
		t.Fatal(err)
	}
	h := &harness{opts: &options{serverCores: 1}, bins: bins, logf: t.Logf}
	for _, prog := range progs {
		t.Run(prog, func(t *testing.T) {
			srv, err := h.startServer(ctx, prog, true)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.stop()
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					if err := echoSmall(srv.addr, i); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Go(func() {
				if err := echoBulk(srv.addr, 32<<20); err != nil {
					t.Error(err)
				}
			})
			wg.Wait()
			// The idle-memory test's command: answered, not fatal.
			if err := srv.gc(ctx); err != nil {
				t.Errorf("gc: %v", err)
			}
			if srv.exited() {
				t.Errorf("server died: %s", srv.describe())
			}
		})
	}
	if kids := children(); len(kids) > 0 {
		t.Errorf("processes left behind: %v", kids)
	}
	if program("echo", report.C) != cProgram || program("echo", report.CUring) != cUringProgram || program("echo", report.Nbio) != "echo-nbio" ||
		program("echo", report.GoEpoll) != "echo-go-epoll" {
		t.Error("server names do not map to the programs built")
	}
}

// echoSmall sends 100 request/response round trips of 64 bytes.
func echoSmall(addr string, id int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, 64)
	for seq := range 100 {
		msg := []byte(fmt.Sprintf("%-64s", fmt.Sprintf("conn %d message %d", id, seq)))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("conn %d message %d: %w", id, seq, err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("conn %d message %d: got %q", id, seq, got)
		}
	}
	return nil
}

// echoBulk writes n patterned bytes, starting to read only after the
// write has stalled for a while, and checks every byte that comes back.
func echoBulk(addr string, n int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	want := []byte(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", n/36+1))[:n]
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(want)
		werr <- err
	}()
	time.Sleep(300 * time.Millisecond) // let both directions' buffers fill
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("bulk read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("bulk write: %w", err)
	}
	if i := firstDiff(got, want); i >= 0 {
		return fmt.Errorf("bulk echo differs at byte %d", i)
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
