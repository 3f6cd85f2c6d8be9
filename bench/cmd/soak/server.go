package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// buildServer compiles apps/multiconn-server into dir. The bench module's
// go.mod replaces the library with the checkout above it, so this is the
// program of this checkout.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "multiconn-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/evsel/evsel/apps/multiconn-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build multiconn-server: %w\n%s", err, out)
	}
	return bin, nil
}

// server is a running multiconn-server.
type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan struct{} // closed when the process has exited
}

var listening = regexp.MustCompile(`^Listening on \('([^']+)', (\d+)\)$`)

// startServer runs bin -quiet with the given flags on a free loopback port
// and waits for its Listening line. GOTRACEBACK=all makes SIGQUIT dump
// every goroutine, which is how goroutines are counted.
func startServer(bin string, flags []string) (*server, error) {
	args := append(append([]string{"-quiet"}, flags...), "127.0.0.1", "0")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	dieWithParent(cmd)
	s := &server{cmd: cmd, stderr: new(bytes.Buffer), done: make(chan struct{})}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(out)
	if lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			s.addr = m[1] + ":" + m[2]
		}
	}
	go func() {
		for lines.Scan() {
		}
		cmd.Wait()
		close(s.done)
	}()
	if s.addr == "" {
		cmd.Process.Kill()
		<-s.done
		return nil, fmt.Errorf("%s did not print its Listening line: %s", bin, s.stderr)
	}
	return s, nil
}

// goroutines makes the server dump its goroutines (SIGQUIT) and counts
// them; the server exits.
func (s *server) goroutines() (int, error) {
	if err := s.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return 0, err
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return 0, errors.New("server did not exit on SIGQUIT")
	}
	n := countGoroutines(s.stderr.String())
	if n == 0 {
		return 0, fmt.Errorf("no goroutine dump on SIGQUIT: %q", s.stderr.String())
	}
	return n, nil
}

// countGoroutines counts the goroutines of a dump that run code outside
// the runtime: the runtime starts its own (one garbage-collection worker
// per P at the first collection, for one) and they are no leak.
func countGoroutines(dump string) int {
	n := 0
	for block := range strings.SplitSeq(dump, "\n\n") {
		header, frames, _ := strings.Cut(strings.TrimLeft(block, "\n"), "\n")
		if !strings.HasPrefix(header, "goroutine ") {
			continue
		}
		for frame := range strings.Lines(frames) {
			if !strings.HasPrefix(frame, "\t") && !strings.HasPrefix(frame, "runtime.") && !strings.HasPrefix(frame, "created by ") {
				n++
				break
			}
		}
	}
	return n
}

// kill ends the server if it still runs.
func (s *server) kill() {
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}
