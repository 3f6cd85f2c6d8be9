package evsel_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// uringSeccompEnv carries, to the re-executed test binary, the errno its
// seccomp filter answers io_uring_setup with.
const uringSeccompEnv = "EVSEL_URING_TEST_SECCOMP_ERRNO"

// TestUringSeccomp runs UringAvailable in a child process whose seccomp
// filter refuses io_uring_setup, as container runtimes' default profiles
// do, with each errno such filters use, and checks the reason it gives.
func TestUringSeccomp(t *testing.T) {
	if err := evsel.UringAvailable(); err != nil {
		t.Skip(err)
	}
	_, serr := os.Stat("/proc/sys/kernel/io_uring_disabled")
	enosys := evsel.UringBlocked // the sysctl proves the kernel has io_uring
	if serr != nil {
		enosys = evsel.UringNoKernel // before 6.6 a filter looks like no support
	}
	for _, tc := range []struct {
		errno unix.Errno
		want  evsel.UringReason
	}{
		{unix.EPERM, evsel.UringBlocked},
		{unix.ENOSYS, enosys},
	} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), watchdog)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestUringSeccompChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), uringSeccompEnv+"="+strconv.Itoa(int(tc.errno)))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), fmt.Sprintf("reason=%d\n", int(tc.want)))
			t.Logf("%s", out)
		})
	}
}

// TestUringSeccompChild is TestUringSeccomp's child, skipped otherwise.
func TestUringSeccompChild(t *testing.T) {
	v := os.Getenv(uringSeccompEnv)
	if v == "" {
		t.Skip("the child process of TestUringSeccomp")
	}
	errno, err := strconv.Atoi(v)
	if err == nil {
		err = denyUringSetup(unix.Errno(errno))
	}
	if err != nil {
		fmt.Println("seccomp:", err)
		os.Exit(3)
	}
	err = evsel.UringAvailable()
	var ue *evsel.UringError
	if !errors.As(err, &ue) {
		fmt.Println("not a UringError:", err)
		os.Exit(4)
	}
	fmt.Printf("reason=%d\n%v\n", int(ue.Reason), err)
	os.Exit(0) // the filter stays for the process's life: no more tests here
}

// denyUringSetup installs, on every thread of the process, a seccomp filter
// that fails io_uring_setup with errno and allows everything else.
func denyUringSetup(errno unix.Errno) error {
	runtime.LockOSThread() // prctl's no_new_privs is per thread; TSYNC spreads both
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_IO_URING_SETUP},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return e
	}
	return nil
}
