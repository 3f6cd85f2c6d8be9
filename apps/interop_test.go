// Package apps_test runs the programs under apps/ as processes, against each
// other and against the Python reference peers in testdata/python, checking
// exit codes and output lines.
package apps_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the Go programs, built once by TestMain.
var binDir string

var programs = []string{"echo-server", "echo-client", "multiconn-server", "multiconn-client", "demo", "app-server", "app-client", "tls-cert"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evsel-apps-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, p := range programs {
		args = append(args, "./"+p)
	}
	build := exec.Command(goTool(), args...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(args, " "), err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

func bin(name string) string { return filepath.Join(binDir, name) }

func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "python", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// goCmd and pyCmd are the argv of a Go program or a Python script.
func goCmd(name string, args ...string) []string { return append([]string{bin(name)}, args...) }

func pyCmd(t *testing.T, name string, args ...string) []string {
	return append([]string{"python3", "-u", script(t, name)}, args...)
}

// proc is a running program whose stdout is collected line by line.
type proc struct {
	t      *testing.T
	argv   []string
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr bytes.Buffer
	done   chan struct{}
	code   int
}

// syncWriter guards a buffer the exec package writes from its own goroutine.
type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// start runs argv; the process is killed and reaped at the end of the test
// if it is still running then.
func start(t *testing.T, argv ...string) *proc {
	t.Helper()
	return startPrep(t, nil, argv...)
}

// startPrep is start with prep, if not nil, adjusting the command before it
// starts (inherited descriptors, environment).
func startPrep(t *testing.T, prep func(*exec.Cmd), argv ...string) *proc {
	t.Helper()
	p := &proc{t: t, argv: argv, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	if prep != nil {
		prep(p.cmd)
	}
	p.cmd.Stderr = syncWriter{&p.mu, &p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", argv[0], err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		io.Copy(io.Discard, out)
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Lines returns the stdout lines so far.
func (p *proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Stderr returns what the program wrote to stderr so far.
func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) describe() string {
	return fmt.Sprintf("%q\nstdout:\n%s\nstderr:\n%s", p.argv, strings.Join(p.Lines(), "\n"), p.Stderr())
}

// Wait waits for the program to exit and returns its exit code.
func (p *proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("still running after %v: %s", timeout, p.describe())
		return -1
	}
}

// WaitLines waits until n stdout lines match re and returns the matches of
// the first n.
func (p *proc) WaitLines(re *regexp.Regexp, n int, timeout time.Duration) [][]string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var found [][]string
		for _, l := range p.Lines() {
			if m := re.FindStringSubmatch(l); m != nil {
				found = append(found, m)
			}
		}
		if len(found) >= n {
			return found[:n]
		}
		select {
		case <-p.done:
			p.t.Fatalf("exited (code %d) with %d of %d lines matching %s: %s", p.code, len(found), n, re, p.describe())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out with %d of %d lines matching %s: %s", len(found), n, re, p.describe())
		}
	}
}

// Interrupt sends Ctrl-C's SIGINT and returns the exit code.
func (p *proc) Interrupt() int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		p.t.Fatalf("SIGINT: %v", err)
	}
	return p.Wait(10 * time.Second)
}

// run runs argv to completion.
func run(t *testing.T, timeout time.Duration, argv ...string) *proc {
	t.Helper()
	p := start(t, argv...)
	p.Wait(timeout)
	return p
}

var listeningRE = regexp.MustCompile(`^Listening on \('127\.0\.0\.1', (\d+)\)$`)

// startServer starts a multiconn server on a free port and returns it with
// the port from its Listening line.
func startServer(t *testing.T, argv ...string) (*proc, int) {
	t.Helper()
	p := start(t, argv...)
	m := p.WaitLines(listeningRE, 1, 10*time.Second)
	port, _ := strconv.Atoi(m[0][1])
	if port == 0 {
		t.Fatalf("no port in %q", m[0][0])
	}
	return p, port
}

const addrRE = `\('127\.0\.0\.1', \d+\)`

var (
	acceptedRE = regexp.MustCompile(`^Accepted connection from (` + addrRE + `)$`)
	echoingRE  = regexp.MustCompile(`^Echoing b'(.*)' to (` + addrRE + `)$`)
	closingRE  = regexp.MustCompile(`^Closing connection to (` + addrRE + `)$`)
	receivedRE = regexp.MustCompile(`^Received b'(.*)' from connection (\d+)$`)
	summaryRE  = regexp.MustCompile(`^Summary: connections=(\d+) completed=(\d+) messages=(\d+) bytes_sent=(\d+) bytes_verified=(\d+) elapsed=\S+s throughput=\S+MB/s errors=(\d+)$`)
)

const pythonEcho = "Message 1 from client.Message 2 from client."

// checkServer checks a multiconn server's output after n Python-client
// connections: each accepted, echoed in full, closed, then the Ctrl-C line.
func checkServer(t *testing.T, srv *proc, n int) {
	t.Helper()
	srv.WaitLines(closingRE, n, 10*time.Second)
	if code := srv.Interrupt(); code != 0 {
		t.Errorf("server exit code %d after SIGINT: %s", code, srv.describe())
	}
	accepted := map[string]bool{}
	echoed := map[string]string{}
	closed := map[string]bool{}
	lines := srv.Lines()
	for i, l := range lines {
		switch {
		case i == 0 && listeningRE.MatchString(l):
		case acceptedRE.MatchString(l):
			accepted[acceptedRE.FindStringSubmatch(l)[1]] = true
		case echoingRE.MatchString(l):
			m := echoingRE.FindStringSubmatch(l)
			echoed[m[2]] += m[1]
		case closingRE.MatchString(l):
			closed[closingRE.FindStringSubmatch(l)[1]] = true
		case i == len(lines)-1 && l == "Caught keyboard interrupt, exiting":
		default:
			t.Errorf("unexpected server line %d %q", i, l)
		}
	}
	if len(accepted) != n || len(closed) != n || len(echoed) != n {
		t.Errorf("server: %d accepted, %d echoed to, %d closed; want %d: %s", len(accepted), len(echoed), len(closed), n, srv.describe())
	}
	for a := range accepted {
		if !closed[a] || echoed[a] != pythonEcho {
			t.Errorf("connection from %s: closed %v, echoed %q", a, closed[a], echoed[a])
		}
	}
	if last := lines[len(lines)-1]; last != "Caught keyboard interrupt, exiting" {
		t.Errorf("last server line %q", last)
	}
}

// checkClient checks a multiconn client's output for n connections with the
// Python messages: the Python script's lines, whatever their order and
// however the replies were split, plus (for Go) the summary line last.
func checkClient(t *testing.T, cl *proc, n, port int, summary bool) {
	t.Helper()
	if code := cl.Wait(20 * time.Second); code != 0 {
		t.Fatalf("client exit code %d: %s", code, cl.describe())
	}
	lines := cl.Lines()
	if summary {
		last := lines[len(lines)-1]
		m := summaryRE.FindStringSubmatch(last)
		want := []string{strconv.Itoa(n), strconv.Itoa(n), strconv.Itoa(2 * n), strconv.Itoa(44 * n), strconv.Itoa(44 * n), "0"}
		if m == nil || strings.Join(m[1:], " ") != strings.Join(want, " ") {
			t.Errorf("summary %q, want values %v", last, want)
		}
		lines = lines[:len(lines)-1]
	}
	want := map[string]int{}
	target := fmt.Sprintf("('127.0.0.1', %d)", port)
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		want["Starting connection "+id+" to "+target]++
		want["Sending b'Message 1 from client.' to connection "+id]++
		want["Sending b'Message 2 from client.' to connection "+id]++
		want["Closing connection "+id]++
	}
	received := map[string]string{}
	got := map[string]int{}
	for _, l := range lines {
		if m := receivedRE.FindStringSubmatch(l); m != nil {
			received[m[2]] += m[1]
			continue
		}
		got[l]++
	}
	for l, k := range want {
		if got[l] != k {
			t.Errorf("client printed %q %d times, want %d", l, got[l], k)
		}
	}
	for l, k := range got {
		if want[l] == 0 {
			t.Errorf("unexpected client line %q (%d times)", l, k)
		}
	}
	for i := 1; i <= n; i++ {
		if r := received[strconv.Itoa(i)]; r != pythonEcho {
			t.Errorf("connection %d received %q", i, r)
		}
	}
}

func TestMulticonnPythonClientGoServer(t *testing.T) {
	t.Parallel()
	srv, port := startServer(t, goCmd("multiconn-server", "127.0.0.1", "0")...)
	cl := start(t, pyCmd(t, "multiconn-client.py", "127.0.0.1", strconv.Itoa(port), "10")...)
	checkClient(t, cl, 10, port, false)
	checkServer(t, srv, 10)
}

func TestMulticonnGoClientPythonServer(t *testing.T) {
	t.Parallel()
	srv, port := startServer(t, pyCmd(t, "multiconn-server.py", "127.0.0.1", "0")...)
	cl := start(t, goCmd("multiconn-client", "127.0.0.1", strconv.Itoa(port), "10")...)
	checkClient(t, cl, 10, port, true)
	checkServer(t, srv, 10)
}

// TestMulticonnGoBoth runs the reference pairing's Go halves together, and
// the Python client against the same server for comparison.
func TestMulticonnGoBoth(t *testing.T) {
	t.Parallel()
	srv, port := startServer(t, goCmd("multiconn-server", "127.0.0.1", "0")...)
	checkClient(t, start(t, goCmd("multiconn-client", "127.0.0.1", strconv.Itoa(port), "5")...), 5, port, true)
	checkClient(t, start(t, pyCmd(t, "multiconn-client.py", "127.0.0.1", strconv.Itoa(port), "5")...), 5, port, false)
	checkServer(t, srv, 10)
}

func TestMulticonnScale(t *testing.T) {
	t.Parallel()
	srv, port := startServer(t, goCmd("multiconn-server", "-quiet", "127.0.0.1", "0")...)
	cl := run(t, 30*time.Second, goCmd("multiconn-client", "-quiet", "-messages", "50", "-size", "1000", "127.0.0.1", strconv.Itoa(port), "200")...)
	if cl.code != 0 {
		t.Fatalf("client exit code %d: %s", cl.code, cl.describe())
	}
	lines := cl.Lines()
	m := []string(nil)
	if len(lines) == 1 {
		m = summaryRE.FindStringSubmatch(lines[0])
	}
	if m == nil || strings.Join(m[1:], " ") != "200 200 10000 10000000 10000000 0" {
		t.Fatalf("client output: %s", cl.describe())
	}
	// In quiet mode the server prints its counters on exit: every byte the
	// client verified went through it, so they are final already.
	if code := srv.Interrupt(); code != 0 {
		t.Fatalf("server exit code %d: %s", code, srv.describe())
	}
	want := regexp.MustCompile(`^Server: accepted=200 closed=200 bytes_echoed=10000000 errors=0 reads=\d+ writes=\d+$`)
	lines = srv.Lines()
	if len(lines) != 3 || lines[1] != "Caught keyboard interrupt, exiting" || !want.MatchString(lines[2]) {
		t.Errorf("server output: %s", srv.describe())
	}
}

func TestMulticonnClientRefused(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	cl := run(t, 20*time.Second, goCmd("multiconn-client", "-quiet", "127.0.0.1", strconv.Itoa(port), "3")...)
	lines := cl.Lines()
	if cl.code != 1 || len(lines) != 1 || !strings.HasSuffix(lines[0], " errors=3") ||
		strings.Count(cl.Stderr(), "connection refused") != 3 {
		t.Errorf("exit code %d: %s", cl.code, cl.describe())
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	serverUsage := " <host> <port>"
	clientUsage := " <host> <port> <num_connections>"
	cases := []struct {
		argv  []string
		usage string
	}{
		{goCmd("multiconn-server"), serverUsage},
		{goCmd("multiconn-server", "127.0.0.1"), serverUsage},
		{goCmd("multiconn-server", "-quiet", "127.0.0.1", "0", "x"), serverUsage},
		{goCmd("multiconn-client", "127.0.0.1", "65432"), clientUsage},
		{goCmd("multiconn-client", "-quiet", "127.0.0.1", "65432", "1", "x"), clientUsage},
		{pyCmd(t, "multiconn-server.py"), serverUsage},
		{pyCmd(t, "multiconn-client.py", "127.0.0.1", "65432"), clientUsage},
	}
	for _, c := range cases {
		p := run(t, 10*time.Second, c.argv...)
		prog := c.argv[0]
		if prog == "python3" {
			prog = c.argv[2]
		}
		want := "Usage: " + prog + c.usage
		if lines := p.Lines(); p.code != 1 || len(lines) != 1 || lines[0] != want {
			t.Errorf("exit code %d, want 1 and %q: %s", p.code, want, p.describe())
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startEchoServer starts a one-connection echo server on a free port. It
// prints nothing until a client connects, so clients retry until it listens.
func startEchoServer(t *testing.T, argv func(port string) []string) (*proc, string) {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	return start(t, argv(port)...), port
}

var connectedRE = regexp.MustCompile(`^Connected by \('127\.0\.0\.1', \d+\)$`)

func TestEcho(t *testing.T) {
	servers := map[string]func(t *testing.T, port string) []string{
		"go":     func(t *testing.T, port string) []string { return goCmd("echo-server", "127.0.0.1", port) },
		"python": func(t *testing.T, port string) []string { return pyCmd(t, "echo-server.py", "127.0.0.1", port) },
	}
	clients := map[string]func(t *testing.T, port string) []string{
		"go":     func(t *testing.T, port string) []string { return goCmd("echo-client", "127.0.0.1", port) },
		"python": func(t *testing.T, port string) []string { return pyCmd(t, "echo-client.py", "127.0.0.1", port) },
	}
	for sname, server := range servers {
		for cname, client := range clients {
			t.Run(cname+"-client-"+sname+"-server", func(t *testing.T) {
				t.Parallel()
				srv, port := startEchoServer(t, func(port string) []string { return server(t, port) })
				deadline := time.Now().Add(10 * time.Second)
				var cl *proc
				for {
					cl = run(t, 10*time.Second, client(t, port)...)
					if cl.code == 0 || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond) // not listening yet: refused
				}
				if lines := cl.Lines(); cl.code != 0 || len(lines) != 1 || lines[0] != "Received b'Hello, world'" {
					t.Errorf("client: exit code %d: %s", cl.code, cl.describe())
				}
				if code := srv.Wait(10 * time.Second); code != 0 {
					t.Errorf("server exit code %d: %s", code, srv.describe())
				}
				if lines := srv.Lines(); len(lines) != 1 || !connectedRE.MatchString(lines[0]) {
					t.Errorf("server output: %s", srv.describe())
				}
			})
		}
	}
}

// TestEchoServerChunks sends the Go echo server more than one 1024-byte
// chunk and checks every byte comes back, then that it exits on EOF.
func TestEchoServerChunks(t *testing.T) {
	t.Parallel()
	srv, port := startEchoServer(t, func(port string) []string { return goCmd("echo-server", "127.0.0.1", port) })
	var conn net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		conn, err = net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := make([]byte, 300_000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	conn.(*net.TCPConn).CloseWrite()
	if n, err := conn.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after EOF: read %d, %v", n, err)
	}
	if code := srv.Wait(10 * time.Second); code != 0 {
		t.Errorf("server exit code %d: %s", code, srv.describe())
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	p := run(t, 50*time.Second, bin("demo"))
	out := strings.Join(p.Lines(), "\n")
	for _, want := range []string{
		"connections: 1000 opened, 1000 completed, 0 failed",
		"bytes:       81920000 sent, 81920000 verified byte for byte",
		"\nerrors = 0\n",
		"server:      accepted=1000 dialed=0 open=0 closed=1000 bytes_in=81920000 bytes_out=81920000",
		"\nOK",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if p.code != 0 || t.Failed() {
		t.Errorf("exit code %d: %s", p.code, p.describe())
	}
	if bad := run(t, 10*time.Second, bin("demo"), "extra"); bad.code == 0 {
		t.Errorf("demo with a stray argument exited 0")
	}
}

// TestMulticonnClientInterrupt connects the Go client to a server that
// reads and never answers, then presses Ctrl-C: the client says so, prints
// the summary (every connection unfinished) and exits 0 like Python's.
func TestMulticonnClientInterrupt(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after ln.Close, which ends the accept loop
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cl := start(t, goCmd("multiconn-client", "127.0.0.1", port, "3")...)
	cl.WaitLines(regexp.MustCompile(`^Sending b'Message 2 from client\.' to connection \d$`), 3, 10*time.Second)
	if code := cl.Interrupt(); code != 0 {
		t.Errorf("exit code %d after SIGINT", code)
	}
	// 3 Starting and 6 Sending lines, then these two; no Closing lines.
	lines := cl.Lines()
	n := len(lines)
	if n != 11 || lines[n-2] != "Caught keyboard interrupt, exiting" || cl.Stderr() != "" {
		t.Fatalf("output: %s", cl.describe())
	}
	if m := summaryRE.FindStringSubmatch(lines[n-1]); m == nil || strings.Join(m[1:], " ") != "3 0 6 132 0 3" {
		t.Errorf("summary %q", lines[n-1])
	}
}
