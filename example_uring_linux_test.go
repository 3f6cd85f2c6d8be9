package evsel_test

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
)

// ExampleUring sends and receives through one io_uring ring: both requests
// go to the kernel in one system call, and each comes back as a completion
// named by its user data. It needs a kernel with io_uring (UringAvailable
// says why not; the loop engine then serves on epoll instead).
func ExampleUring() {
	// A SINGLE_ISSUER ring belongs to the thread that made it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := evsel.NewUring(evsel.UringOptions{Entries: 8})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])

	const recvID, sendID = 1, 2
	buf := make([]byte, 16)
	// The receive waits inside the kernel until the send delivers; the
	// ring keeps both buffers reachable until their completions are reaped.
	if err := r.PrepRecv(recvID, fds[1], buf); err != nil {
		panic(err)
	}
	if err := r.PrepSend(sendID, fds[0], []byte("hello")); err != nil {
		panic(err)
	}
	results := map[uint64]int32{}
	for len(results) < 2 {
		if err := r.SubmitAndWait(time.Second); err != nil {
			panic(err)
		}
		if r.ForEachCQE(func(c evsel.UringCQE) {
			if err := c.Err(); err != nil {
				panic(err)
			}
			results[c.UserData] = c.Res
		}) == 0 {
			panic("no completion within a second")
		}
	}
	fmt.Println("sent", results[sendID])
	fmt.Printf("received %q\n", buf[:results[recvID]])
	// Output:
	// sent 5
	// received "hello"
}
