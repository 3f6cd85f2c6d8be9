package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evsel/evsel/bench/internal/procinfo"
	"github.com/evsel/evsel/bench/internal/report"
)

// harness runs one server against the load generator at a time.
type harness struct {
	opts      *options
	bins      string // directory of the built programs
	srvCPUs   string // taskset lists; empty: not pinned
	loadCPUs  string
	haveProcs bool
	// syscalls: count the servers' system calls with perf in echo cells.
	syscalls bool
	logf     func(format string, args ...any)
	// callgrindDir: -instructions, the server runs under callgrind and
	// writes its counts and valgrind's control pipes here; runInstructions
	// gives each run a directory of its own (instructions.go).
	callgrindDir string
}

// server is a running server program.
type server struct {
	*child
	addr   string
	stdin  *os.File      // commands to the server, when asked for
	gcDone chan struct{} // an answer to "gc"
}

// gc asks the server to collect garbage and return free memory to the OS,
// and waits for it to be done.
func (s *server) gc(ctx context.Context) error {
	if _, err := s.stdin.WriteString("gc\n"); err != nil {
		return err
	}
	select {
	case <-s.gcDone:
		return nil
	case <-s.done:
		return fmt.Errorf("server died: %s", s.describe())
	case <-time.After(10 * time.Second):
		return errors.New("server did not answer gc within 10s")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startServer starts program prog (e.g. "echo-evsel") on a fresh port and
// waits until it says it is listening. With commands, the server reads
// commands (gc) from a pipe.
func (h *harness) startServer(ctx context.Context, prog string, commands bool, extra ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{addr: "127.0.0.1:" + strconv.Itoa(port), gcDone: make(chan struct{}, 1)}
	var stdin *os.File
	if commands {
		var r *os.File
		if r, s.stdin, err = os.Pipe(); err != nil {
			return nil, err
		}
		stdin = r
		defer r.Close()
	}
	ready := make(chan struct{})
	var once sync.Once
	args := append([]string{"-addr", s.addr, "-cores", strconv.Itoa(h.opts.serverCores)}, extra...)
	readyLine := "listening "
	if prog == multiconnProgram {
		// Its loops default to GOMAXPROCS, which env sets.
		args, readyLine = []string{"127.0.0.1", strconv.Itoa(port)}, "Listening on "
	}
	env := []string{"GOMAXPROCS=" + strconv.Itoa(h.opts.serverCores)}
	bin, listenWithin := h.bin(prog), 15*time.Second
	if h.callgrindDir != "" {
		prefix := callgrindPrefix(h.callgrindDir)
		bin, args = prefix[0], append(append(prefix[1:], bin), args...)
		env = append(env, callgrindEnv...)
		listenWithin = time.Minute // valgrind starts a Go program in seconds
	}
	srv, err := spawn(ctx, prog, h.srvCPUs, bin, args, env, stdin,
		func(line string) {
			switch {
			case strings.HasPrefix(line, readyLine):
				once.Do(func() { close(ready) })
			case line == "gc-done":
				select {
				case s.gcDone <- struct{}{}:
				default:
				}
			}
		},
		func(line string) { h.logf("%s: %s", prog, line) })
	if err != nil {
		if s.stdin != nil {
			s.stdin.Close()
		}
		return nil, err
	}
	s.child = srv
	select {
	case <-ready:
		return s, nil
	case <-srv.done:
		err = fmt.Errorf("server exited before listening: %s", srv.describe())
	case <-time.After(listenWithin):
		err = fmt.Errorf("server did not listen within %v: %s", listenWithin, srv.describe())
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stop()
	return nil, err
}

// stop kills the server and closes its command pipe.
func (s *server) stop() {
	s.kill()
	if s.stdin != nil {
		s.stdin.Close()
	}
}

func (h *harness) bin(prog string) string {
	return h.bins + string(os.PathSeparator) + prog + exeSuffix
}

// serverArgs are the flags that make a server of the program it shares
// with another: evsel-uring is evsel's program on the io_uring driver.
func serverArgs(server string) []string {
	if server == report.EvselUring {
		return []string{"-driver", "io_uring"}
	}
	return nil
}

// program names the server binary for a cell kind and server.
func program(kind, server string) string {
	if server == report.EvselUring {
		server = report.Evsel
	}
	switch {
	case server == report.Multiconn:
		return multiconnProgram
	case kind == "app", kind == "udp":
		return kind + "-" + server
	case kind == "tls", kind == "tls-idle":
		return "tls-" + server
	}
	return "echo-" + server
}

// multiconnProgram is apps/multiconn-server, built from the library module
// (bench's go.mod replaces it with the checkout) and run as users run it:
// host and port as arguments, "Listening on ('127.0.0.1', PORT)" when
// ready, no commands on stdin.
const (
	multiconnProgram = "multiconn-server"
	multiconnPkg     = "github.com/evsel/evsel/apps/multiconn-server"
)

// runLoad measures one server in one echo or app cell.
func (h *harness) runLoad(ctx context.Context, cell report.Cell, server string) report.Run {
	run := report.Run{Cell: cell, Server: server}
	srv, err := h.startServer(ctx, program(cell.Kind, server), false, serverArgs(server)...)
	if err != nil {
		run.Err = err.Error()
		return run
	}
	defer srv.stop()
	addr := srv.addr

	var sc *syscallCounter
	counted := make(chan struct{}) // closed when sc was switched on and off
	if h.syscalls && cell.Kind == "echo" {
		if sc, err = startSyscalls(srv.pid); err != nil {
			h.logf("counting system calls: %v", err)
		}
		defer sc.stop()
	}

	// After "measure-end" the load generator keeps the load on until it
	// reads a line from this pipe: the last samples see the same load as
	// the first.
	ackR, ackW, err := os.Pipe()
	if err != nil {
		run.Err = err.Error()
		return run
	}
	defer ackW.Close()
	args := []string{
		"-ack", "-addr", addr, "-conns", strconv.Itoa(cell.Conns), "-depth", strconv.Itoa(max(cell.Depth, 1)),
		"-warmup", h.opts.warmup.String(), "-measure", h.opts.measure.String(),
	}
	if cell.Kind == "app" {
		args = append(args, "-workload", "app")
	} else if cell.Kind == "udp" {
		args = append(args, "-workload", "udp", "-size", strconv.Itoa(cell.Size))
	} else {
		args = append(args, "-workload", "echo", "-size", strconv.Itoa(cell.Size))
	}
	if cell.Kind == "tls" {
		args = append(args, "-tls")
	}
	var (
		mu             sync.Mutex // guards what the stderr callback sets
		s0, s1, l0, l1 procinfo.Sample
		m0, m1         procinfo.CPUs
		started, ended bool
		sampleErr      error
		windowErr      error // zeroing or dumping callgrind's counts
		stdout         strings.Builder
		lg             *child
		lgStarted      = make(chan struct{}) // lg is set
	)
	sample := func(pid int) procinfo.Sample {
		s, err := procinfo.Read(pid)
		if sampleErr == nil {
			sampleErr = err
		}
		return s
	}
	cpus := func() procinfo.CPUs {
		c, err := procinfo.ReadCPUs()
		if sampleErr == nil {
			sampleErr = err
		}
		return c
	}
	lg, err = spawn(ctx, "loadgen", h.loadCPUs, h.bin("loadgen"), args, nil, ackR,
		func(line string) { stdout.WriteString(line + "\n") },
		func(line string) {
			<-lgStarted
			mu.Lock()
			defer mu.Unlock()
			switch line {
			case "measure-start":
				if h.haveProcs {
					s0, l0, m0 = sample(srv.pid), sample(lg.pid), cpus()
				}
				started = true
				if h.callgrindDir != "" {
					windowErr = h.callgrindWindow(ctx, srv.pid, true)
				}
			case "measure-end":
				if h.haveProcs {
					s1, l1, m1 = sample(srv.pid), sample(lg.pid), cpus()
				}
				ended = true
				if h.callgrindDir != "" {
					// The load stays on until the ack: the dump sees it.
					if err := h.callgrindWindow(ctx, srv.pid, false); windowErr == nil {
						windowErr = err
					}
				}
				if sc == nil {
					ackW.WriteString("ack\n")
					break
				}
				// The system calls are counted after the window, the load
				// still on: the tracepoint makes every call dearer, which
				// must not show in the CPU figure.
				go func() {
					defer close(counted)
					defer ackW.WriteString("ack\n")
					if err := sc.enable(); err != nil {
						h.logf("counting system calls: %v", err)
						return
					}
					time.Sleep(syscallWindow)
					if err := sc.disable(); err != nil {
						h.logf("counting system calls: %v", err)
					}
				}()
			default:
				h.logf("loadgen: %s", line)
			}
		})
	ackR.Close()
	if err != nil {
		run.Err = err.Error()
		return run
	}
	close(lgStarted)
	// The load generator ends by itself after the warm-up, the window and
	// the drain; the dial budget covers thousands of connects.
	limit := h.opts.warmup + h.opts.measure + 30*time.Second + time.Duration(cell.Conns)*time.Millisecond
	select {
	case <-lg.done:
	case <-time.After(limit):
		lg.kill()
		run.Err = "load generator did not finish in " + limit.String() + ": " + lg.describe()
		return run
	case <-ctx.Done():
		lg.kill()
		run.Err = ctx.Err().Error()
		return run
	}
	if srv.exited() {
		run.Err = "server died during the run: " + srv.describe()
		return run
	}
	if lg.err != nil {
		run.Err = "load generator failed: " + lg.describe()
		return run
	}
	if err := json.Unmarshal([]byte(stdout.String()), &run.Load); err != nil {
		run.Err = fmt.Sprintf("load generator output: %v: %q", err, stdout.String())
		return run
	}
	mu.Lock()
	defer mu.Unlock()
	if !started || !ended {
		run.Err = "load generator reported no measured window"
		return run
	}
	if windowErr != nil {
		run.Err = windowErr.Error()
		return run
	}
	if h.haveProcs && sampleErr == nil {
		wall := s1.At.Sub(s0.At).Seconds()
		run.Window = wall
		run.SrvCPU = (s1.CPU - s0.CPU).Seconds()
		run.SrvCPUPct = 100 * run.SrvCPU / wall
		run.LoadCPUPct = 100 * (l1.CPU - l0.CPU).Seconds() / wall
		run.SrvRSS = s1.RSS
		run.StealPct = procinfo.StealPercent(m0, m1)
		if run.Load.MsgsPerS > 0 {
			run.CPUPerMsgUs = 1e6 * (run.SrvCPU / wall) / run.Load.MsgsPerS
		}
	} else if sampleErr != nil {
		h.logf("sampling /proc: %v", sampleErr)
	}
	if sc != nil {
		// The count's rate over perf's window, over the message rate
		// the load generator saw while the harness held it after the
		// window (perf's window lies inside that). The wait orders the
		// switching goroutine's writes before finish reads them.
		<-counted
		n, window, err := sc.finish()
		if err == nil && window > 0 && run.Load.AfterMessages > 0 && run.Load.AfterSeconds > 0 {
			run.Syscalls, run.SyscallsWindow = n, window
			run.SyscallsPerMsg = float64(n) / window / (float64(run.Load.AfterMessages) / run.Load.AfterSeconds)
		} else if err != nil {
			h.logf("counting system calls: %v", err)
		}
	}
	return run
}

// stealRetries is how many times at most runQuiet measures a server again.
const stealRetries = 3

// runQuiet is runLoad, repeated while the hypervisor took more than
// -max-steal of the CPUs' time in the window (see leastStolen).
func (h *harness) runQuiet(ctx context.Context, cell report.Cell, server string) (report.Run, int) {
	return leastStolen(h.opts.maxSteal, func() report.Run {
		return h.runLoad(ctx, cell, server)
	}, func(r report.Run) {
		h.logf("%s / %s: %.0f%% steal, measuring again", cell.Name(), server, r.StealPct)
	})
}

// leastStolen runs measure, and again while the try it keeps had more than
// maxSteal percent steal, up to stealRetries times; it keeps the least
// stolen try and says how many more it made. A failed try ends it: the
// failure is reported, not measured away. maxSteal 0 keeps the first try.
func leastStolen(maxSteal float64, measure func() report.Run, again func(report.Run)) (report.Run, int) {
	run := measure()
	n := 0
	for n < stealRetries && maxSteal > 0 && run.Err == "" && run.Window > 0 && run.StealPct > maxSteal {
		n++
		again(run)
		next := measure()
		if next.Err != "" {
			return next, n
		}
		if next.StealPct < run.StealPct {
			run = next
		}
	}
	return run, n
}
