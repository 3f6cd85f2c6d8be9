package loop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel/internal/testenv"
)

const (
	childEnv      = "EVSEL_LOOP_TEST_CHILD"
	childFillEnv  = "EVSEL_LOOP_TEST_CHILD_FILL"  // set: the child uses up its descriptors itself
	childLoopsEnv = "EVSEL_LOOP_TEST_CHILD_LOOPS" // the child's Options.Loops; default 1
)

// childHeld keeps the descriptors a filling child takes.
var childHeld []*os.File

// runChild is the server of TestAcceptUnderFdExhaustion, in its own process
// so that lowering RLIMIT_NOFILE cannot disturb the test binary: an echo
// engine that prints its address and CPU-time on demand.
func runChild() {
	limit, _ := strconv.Atoi(os.Getenv(childEnv))
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: uint64(limit), Max: uint64(limit)}); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	loops, _ := strconv.Atoi(os.Getenv(childLoopsEnv))
	var acceptErrors atomic.Int64
	h := echo
	h.AcceptError = func(l *Loop, addr net.Addr, err error) {
		if errors.Is(err, syscall.EMFILE) && addr != nil {
			acceptErrors.Add(1)
		}
	}
	e, err := New(h, Options{Loops: max(loops, 1), Logger: quietLog})
	if err != nil {
		fmt.Println("new:", err)
		os.Exit(1)
	}
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	if os.Getenv(childFillEnv) != "" {
		// Take every descriptor left, as something other than connections
		// would: the engine has nothing to shed and only its reserve.
		for {
			f, err := os.Open(os.DevNull)
			if err != nil {
				break
			}
			childHeld = append(childHeld, f) // reachable: no finalizer closes it
		}
	}
	fmt.Println(addr)
	// Each line on stdin asks for the process's CPU time so far, or: grab,
	// to start taking every descriptor that comes free, as another thread
	// would; grabbed, for how many it took; accepterrors, for the EMFILEs
	// OnAcceptError heard of.
	in := bufio.NewScanner(os.Stdin)
	var grabbed atomic.Int64
	for in.Scan() {
		switch in.Text() {
		case "grab":
			go func() {
				for {
					if f, err := os.Open(os.DevNull); err == nil {
						grabbed.Add(1)
						childGrabbed <- f
					} else {
						runtime.Gosched()
					}
				}
			}()
		case "grabbed":
			fmt.Println(grabbed.Load())
		case "accepterrors":
			fmt.Println(acceptErrors.Load())
		default:
			var ru unix.Rusage
			unix.Getrusage(unix.RUSAGE_SELF, &ru)
			fmt.Println(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Microseconds())
		}
	}
	os.Exit(0)
}

// childGrabbed keeps what the grabbing child takes.
var childGrabbed = make(chan *os.File, 1<<16)

// TestAcceptUnderFdExhaustion: with the descriptor limit reached, the
// accept loop must neither die nor spin, and must serve again once
// descriptors are free.
func TestAcceptUnderFdExhaustion(t *testing.T) {
	const limit = 64
	testenv.NeedBacklog(t, limit+40)
	addr, stdin, out := startChild(t, limit)
	cpu := func() time.Duration {
		fmt.Fprintln(stdin)
		require.True(t, out.Scan())
		us, err := strconv.Atoi(out.Text())
		require.NoError(t, err)
		return time.Duration(us) * time.Microsecond
	}

	// Open more connections than the child has descriptors for.
	var conns []net.Conn
	for i := 0; i < limit+40; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		require.NoError(t, err) // the kernel's backlog takes them
		conns = append(conns, c)
	}
	time.Sleep(200 * time.Millisecond) // let it hit EMFILE
	before := cpu()
	time.Sleep(time.Second)
	spent := cpu() - before
	// A spinning accept loop would burn the whole second.
	assert.Less(t, spent, 300*time.Millisecond, "accept loop spins under EMFILE")

	for _, c := range conns {
		c.Close()
	}
	// Once descriptors are free again, new connections are served.
	var served bool
	for attempt := 0; attempt < 50 && !served; attempt++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write([]byte("back"))
			buf := make([]byte, 4)
			if _, err := c.Read(buf); err == nil && string(buf) == "back" {
				served = true
			}
			c.Close()
		}
		if !served {
			time.Sleep(100 * time.Millisecond)
		}
	}
	assert.True(t, served, "server did not recover after descriptors were freed")
}

// startChild runs runChild with the descriptor limit given and returns its
// address and the pipes that ask it for its CPU time.
func startChild(t *testing.T, limit int, env ...string) (string, io.Writer, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(limit))
	cmd.Env = append(cmd.Env, env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	out := bufio.NewScanner(stdout)
	require.True(t, out.Scan())
	addr := strings.TrimSpace(out.Text())
	require.Contains(t, addr, "127.0.0.1:", "child said %q", addr)
	return addr, stdin, out
}

// dialSilent opens n connections to addr that send nothing and stay until
// the test ends.
func dialSilent(t *testing.T, addr string, n int) {
	t.Helper()
	for range n {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
	}
}

// TestFullTableShedsIdle: a process out of descriptors, all held by silent
// connections that stay, still serves a new client by shedding the
// longest-idle one, instead of leaving every newcomer in the backlog. With
// two loops the accepting one soon has none of its own left (accepted
// connections are dealt to both), and must have the other shed.
func TestFullTableShedsIdle(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d loops", loops), func(t *testing.T) {
			const limit = 64
			testenv.NeedBacklog(t, 3*limit+1)
			addr, _, _ := startChild(t, limit, childLoopsEnv+"="+strconv.Itoa(loops))
			dialSilent(t, addr, 3*limit)
			time.Sleep(200 * time.Millisecond) // let it hit EMFILE
			c, err := net.DialTimeout("tcp", addr, time.Second)
			require.NoError(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Write([]byte("newcomer"))
			require.NoError(t, err)
			buf := make([]byte, 8)
			_, err = io.ReadFull(c, buf)
			require.NoError(t, err, "a newcomer was not served with the table full of silent connections")
			assert.Equal(t, "newcomer", string(buf))
		})
	}
}

// TestShedRaceLost: a descriptor freed by a shed that something else in
// the process takes before the accept does (a thread opening files; for
// ENFILE, another process) is not chased by shedding another at once, so
// such a race costs a connection per acceptBackoff rather than draining
// the engine while newcomers keep coming.
func TestShedRaceLost(t *testing.T) {
	const limit = 64
	const newcomers = time.Second
	dials := 2*limit + int(newcomers/(2*time.Millisecond))
	testenv.NeedBacklog(t, dials) // a shed per acceptBackoff admits few of them
	testenv.NeedLocalPorts(t, dials)
	addr, stdin, out := startChild(t, limit)
	dialSilent(t, addr, 2*limit)
	time.Sleep(200 * time.Millisecond) // the table is full of silent connections
	fmt.Fprintln(stdin, "grab")
	for start := time.Now(); time.Since(start) < newcomers; time.Sleep(2 * time.Millisecond) {
		dialSilent(t, addr, 1) // each stays, so that only sheds free descriptors
	}
	fmt.Fprintln(stdin, "grabbed")
	require.True(t, out.Scan())
	grabbed, err := strconv.Atoi(out.Text())
	require.NoError(t, err)
	t.Logf("descriptors lost to the other thread in %v: %d", newcomers, grabbed)
	assert.LessOrEqual(t, grabbed, int(newcomers/acceptBackoff)+5)
}

// TestReserveDescriptorRefuses: out of descriptors with no connection to
// shed, the engine spends its reserve descriptor to accept and close a
// newcomer at once, rather than leave it waiting in the backlog.
func TestReserveDescriptorRefuses(t *testing.T) {
	addr, stdin, out := startChild(t, 64, childFillEnv+"=1")
	c, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err) // the kernel's backlog takes it
	defer c.Close()
	assert.True(t, closedWithin(c, 5*time.Second), "a newcomer was left waiting instead of refused")
	// The handler heard of it (OnAcceptError).
	fmt.Fprintln(stdin, "accepterrors")
	require.True(t, out.Scan())
	assert.NotEqual(t, "0", out.Text(), "OnAcceptError was not called")
	// The refusal repeats: the reserve was taken back each time.
	c2, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err)
	defer c2.Close()
	assert.True(t, closedWithin(c2, 5*time.Second), "the reserve descriptor was not restored")
}

// openFds counts this process's descriptors.
func openFds(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(entries)
}

// TestNoDescriptorLeak: an engine that served and dialed connections gives
// every descriptor back when stopped.
func TestNoDescriptorLeak(t *testing.T) {
	before := openFds(t)
	e, err := New(echo, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		c, err := net.Dial("tcp", addr.String())
		require.NoError(t, err)
		assert.Equal(t, []byte("x"), roundTrip(t, c, []byte("x")))
		if i%2 == 0 {
			c.Close()
		}
		defer c.Close()
	}
	_, err = e.Dial(context.Background(), "tcp", addr.String())
	require.NoError(t, err)
	stop(t, e)
	assert.Equal(t, before+25, openFds(t), "only the test's own open client sockets remain")
}
