package loop

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel/internal/testdriver"
)

// smallBufferTests are the tests whose traffic fills socket buffers, which
// TestSmallKernelBuffers runs again with small TCP buffers. Two defects
// showed only there: an io_uring send completing with EAGAIN (awaitRoom),
// and two uploads the memory budget held paused for ever (inputRoom).
const smallBufferTests = "^(TestHalfClose|TestResetMidWrite|TestStopFlushesPendingOutput|TestSlowReader.*|TestMemoryBudget.*|TestUring.*Send.*|TestSendFile.*|TestWriteWait.*)$"

// smallBuffersEnv marks the copy of the test binary that runs in the
// namespace.
const smallBuffersEnv = "EVSEL_TEST_SMALL_BUFFERS"

// TestSmallKernelBuffers runs smallBufferTests, on this run's driver, in a
// network namespace of their own whose TCP buffers start at 16 KiB, fall
// to 4 KiB under memory pressure and autotune to 128 KiB at most (tcp_wmem
// and tcp_rmem "4096 16384 131072"; Linux's defaults let a send buffer
// grow to 4 MiB, and a receive buffer start at 128 KiB and grow to 6 MiB),
// where the kernel holds little of a connection's output and the engine's
// backpressure, waits for room and memory budget do the work. The
// namespace's sysctls are its own: the system's are untouched. It needs
// CAP_SYS_ADMIN and a writable /proc/sys (CI runs as root); without them
// it is skipped.
func TestSmallKernelBuffers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the namespace re-runs a dozen network tests")
	}
	driver := os.Getenv(testdriver.Env)
	if driver == "" {
		driver = "epoll" // the readiness driver on its Linux poller (evsel.Backends); else the copy would run the other drivers too (TestMain)
	}
	args := []string{"-test.run", smallBufferTests, "-test.count=1", "-test.v"}
	if deadline, ok := t.Deadline(); ok {
		// The copy's own timeout, short of this one's: a copy that hangs
		// (the deadlocks it is there to find) then panics with its
		// goroutines' stacks, which its output brings here, instead of
		// this binary's timeout killing only itself and leaving the copy
		// running, its output lost.
		left := time.Until(deadline)
		args = append(args, "-test.timeout="+(left-min(left/10, 30*time.Second)).String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), smallBuffersEnv+"=1", testdriver.Env+"="+driver)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("no network namespace for the tests (CAP_SYS_ADMIN): %v", err)
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == smallBuffersRefused {
		t.Skipf("the namespace's buffers could not be set (a read-only /proc/sys, as in a container):\n%s", out)
	}
	require.NoError(t, err, "in the namespace with small buffers:\n%s", out)
	// A pattern that no longer names a test would pass having run none.
	require.Contains(t, string(out), "--- PASS: TestHalfClose", "the copy in the namespace ran no test:\n%s", out)
}

// smallBuffersRefused is the exit status of a copy the system did not let
// set the namespace up, which skips the test rather than failing it.
const smallBuffersRefused = 3

// setUpSmallBuffers is TestMain's in the namespace: loopback up, the small
// buffers set. It exits with smallBuffersRefused where the system refuses.
func setUpSmallBuffers() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo's flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	for _, name := range []string{"tcp_wmem", "tcp_rmem"} {
		if err := os.WriteFile("/proc/sys/net/ipv4/"+name, []byte("4096 16384 131072"), 0); err != nil {
			if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
				fmt.Fprintln(os.Stderr, "the namespace with small buffers:", err)
				os.Exit(smallBuffersRefused)
			}
			return err
		}
	}
	return nil
}
