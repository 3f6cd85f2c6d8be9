package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// child is a server or load generator process.
type child struct {
	name string
	cmd  *exec.Cmd
	pid  int
	tail *tailBuffer // the end of its stderr, for error messages
	done chan struct{}
	err  error // from Wait, valid once done is closed
}

// spawn starts bin with args, pinned to cpus with taskset when cpus is not
// empty. stdout and stderr receive the child's output line by line (either
// may be nil); the last few KiB of stderr are also kept for diagnostics. The
// child is killed when ctx ends, and on Linux when this process dies.
func spawn(ctx context.Context, name, cpus, bin string, args []string, env []string,
	stdin *os.File, stdout, stderr func(line string)) (*child, error) {
	argv := append([]string{bin}, args...)
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second
	c := &child{name: name, cmd: cmd, tail: &tailBuffer{max: 4 << 10}, done: make(chan struct{})}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout = &lineWriter{fn: stdout}
	cmd.Stderr = &lineWriter{fn: func(line string) {
		c.tail.add(line)
		if stderr != nil {
			stderr(line)
		}
	}}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.pid = cmd.Process.Pid // taskset execs the command: the pid stays
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill ends the child (if it still runs) and waits for it.
func (c *child) kill() {
	if c == nil {
		return
	}
	if !c.exited() {
		c.cmd.Process.Kill()
	}
	<-c.done
}

// describe is the child's exit status and the end of its stderr.
func (c *child) describe() string {
	s := c.name
	if c.exited() && c.err != nil {
		s += " (" + c.err.Error() + ")"
	}
	if t := strings.TrimSpace(c.tail.String()); t != "" {
		s += ": " + t
	}
	return s
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
		if w.fn != nil {
			w.fn(line)
		}
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes of lines added to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(append(t.b, line...), '\n')
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cpuList spells a set of CPU numbers for taskset: "1", "0,2-3".
func cpuList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, strconv.Itoa(cpus[i])+"-"+strconv.Itoa(cpus[j]))
		} else {
			parts = append(parts, strconv.Itoa(cpus[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
