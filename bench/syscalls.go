package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// syscallEvent is the tracepoint every system call entry fires: perf
// counts it for the server's threads, whatever the call.
const syscallEvent = "raw_syscalls:sys_enter"

// perfCheck says why system calls cannot be counted here ("" when they
// can): perf must exist and be allowed the tracepoint (root, or
// kernel.perf_event_paranoid ≤ -1, or CAP_PERFMON).
func perfCheck(ctx context.Context) string {
	if _, err := exec.LookPath("perf"); err != nil {
		return "no perf on PATH: the syscalls/msg column is empty"
	}
	out, err := exec.CommandContext(ctx, "perf", "stat", "-e", syscallEvent, "-x,", "-D", "-1", "--", "true").CombinedOutput()
	if err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return fmt.Sprintf("perf cannot count %s (%v: %s): the syscalls/msg column is empty", syscallEvent, err, first)
	}
	return ""
}

// syscallCounter is a perf stat attached to a server, counting its system
// calls while enabled. It is attached before the load starts (perf takes
// tens of milliseconds to attach) and switched on and off through its
// control pipe for one second after the measured window, each switch
// acknowledged, while the load generator holds the load (-ack).
type syscallCounter struct {
	cmd     *exec.Cmd
	ctl     *os.File      // commands to perf
	ack     *bufio.Reader // its acknowledgements
	ackFile *os.File
	stderr  bytes.Buffer
	done    chan struct{}
	on, off time.Time // when enable and disable were acknowledged
}

// syscallWindow is how long the system calls are counted, after the
// measured window.
const syscallWindow = time.Second

// startSyscalls attaches perf to pid with its counter disabled.
func startSyscalls(pid int) (*syscallCounter, error) {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ackR, ackW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, err
	}
	s := &syscallCounter{ctl: ctlW, ack: bufio.NewReader(ackR), ackFile: ackR, done: make(chan struct{})}
	// Descriptors 3 and 4 in perf: ExtraFiles' first two.
	s.cmd = exec.Command("perf", "stat", "-e", syscallEvent, "-x,", "-D", "-1",
		"--control", "fd:3,4", "-p", strconv.Itoa(pid))
	s.cmd.ExtraFiles = []*os.File{ctlR, ackW}
	s.cmd.Stderr = &s.stderr
	err = s.cmd.Start()
	ctlR.Close()
	ackW.Close()
	if err != nil {
		ctlW.Close()
		ackR.Close()
		return nil, fmt.Errorf("perf: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// command sends enable or disable and waits for perf to acknowledge it,
// returning when it did.
func (s *syscallCounter) command(cmd string) (time.Time, error) {
	if _, err := s.ctl.WriteString(cmd + "\n"); err != nil {
		return time.Time{}, fmt.Errorf("perf %s: %w", cmd, err)
	}
	s.ackFile.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := s.ack.ReadString('\n')
	if err != nil || !strings.Contains(line, "ack") {
		return time.Time{}, fmt.Errorf("perf %s not acknowledged: %v %q", cmd, err, line)
	}
	return time.Now(), nil
}

// enable starts counting: the window's start.
func (s *syscallCounter) enable() (err error) {
	s.on, err = s.command("enable")
	return err
}

// disable stops counting: the window's end.
func (s *syscallCounter) disable() (err error) {
	s.off, err = s.command("disable")
	return err
}

// finish ends perf and returns the count and the seconds it was enabled.
func (s *syscallCounter) finish() (count int64, window float64, err error) {
	s.stop()
	if s.on.IsZero() || s.off.IsZero() {
		return 0, 0, errors.New("perf was not switched on and off")
	}
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || f[2] != syscallEvent {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("perf counted %q", f[0])
		}
		return n, s.off.Sub(s.on).Seconds(), nil
	}
	return 0, 0, fmt.Errorf("no count in perf's output: %q", strings.TrimSpace(s.stderr.String()))
}

// stop ends perf (SIGINT makes it print its count) and waits for it; it
// may be called more than once.
func (s *syscallCounter) stop() {
	if s == nil {
		return
	}
	select {
	case <-s.done:
	default:
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.ctl.Close()
	s.ackFile.Close()
}
