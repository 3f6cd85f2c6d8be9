package loop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// handoffChildEnv, set, makes the test binary the successor process of
// TestHandoff (see TestMain).
const handoffChildEnv = "EVSEL_LOOP_TEST_HANDOFF_CHILD"

// handoffMsg is the size of a handoff client's message.
const handoffMsg = 16

// tagged answers each handoffMsg-byte message with tag and the message, so
// that a client knows which process served it.
func tagged(tag byte) Funcs {
	return Funcs{Data: func(c *Conn) {
		for len(c.Inbound()) >= handoffMsg {
			c.Write([]byte{tag})
			c.Write(c.Inbound()[:handoffMsg])
			c.Consume(handoffMsg)
		}
	}}
}

// runHandoffChild is the successor: it serves the sockets it inherited,
// says "ready", and when its stdin closes drains and reports how many
// connections it accepted.
func runHandoffChild() {
	e, err := New(tagged('C'), Options{Loops: 2, Logger: quietLog})
	if err != nil {
		fmt.Println("new:", err)
		os.Exit(1)
	}
	addrs, err := e.ServeInherited(nil)
	if err != nil {
		fmt.Println("serve:", err)
		os.Exit(1)
	}
	fmt.Println("ready", len(addrs), addrs[0])
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Drain(ctx); err != nil {
		fmt.Println("drain:", err)
		os.Exit(1)
	}
	fmt.Println("accepted", e.Stats().Accepted)
	os.Exit(0)
}

// TestHandoff: a server hands its listening sockets to a successor process
// and drains, while clients connect in tight loops the whole time. No
// connection attempt is refused or cut, every one is served, by the parent
// before the handoff and by the child after.
func TestHandoff(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("adoption is not supported on Windows")
	}
	for _, reusePort := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReusePort=%v", reusePort), func(t *testing.T) {
			testHandoff(t, reusePort)
		})
	}
}

func testHandoff(t *testing.T, reusePort bool) {
	e, err := New(tagged('P'), Options{Loops: 2, ReusePort: reusePort, Logger: quietLog})
	require.NoError(t, err)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer e.Stop(context.Background()) // Drain stops it; this is for a failure before

	const clients, maxAttempts = 4, 10000
	var (
		served   [2]atomic.Int64 // by the parent, by the child
		attempts atomic.Int64
		quit     = make(chan struct{})
		wg       sync.WaitGroup
		errMu    sync.Mutex
		errs     []error
	)
	for i := range clients {
		wg.Go(func() {
			msg := make([]byte, handoffMsg)
			got := make([]byte, 1+handoffMsg)
			for n := 0; ; n++ {
				select {
				case <-quit:
					return
				default:
				}
				if attempts.Load() >= maxAttempts {
					return
				}
				attempts.Add(1)
				copy(msg, fmt.Sprintf("c%d-%-13d", i, n))
				err := func() error {
					c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
					if err != nil {
						return err
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err := c.Write(msg); err != nil {
						return err
					}
					if _, err := io.ReadFull(c, got); err != nil {
						return err
					}
					if string(got[1:]) != string(msg) {
						return fmt.Errorf("sent %q, got %q", msg, got)
					}
					switch got[0] {
					case 'P':
						served[0].Add(1)
					case 'C':
						served[1].Add(1)
					default:
						return fmt.Errorf("tag %q", got[0])
					}
					return nil
				}()
				if err != nil {
					errMu.Lock()
					errs = append(errs, err)
					errMu.Unlock()
				}
			}
		})
	}
	stopClients := sync.OnceFunc(func() {
		close(quit)
		wg.Wait()
	})
	defer stopClients()
	waitFor(t, "the parent to serve", func() bool { return served[0].Load() >= 50 })

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), handoffChildEnv+"=1")
	cmd.Stderr = os.Stderr
	files, err := e.PassListeners(cmd)
	require.NoError(t, err)
	if reusePort && runtime.GOOS == "linux" {
		require.Len(t, files, 2, "one socket per loop")
	}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	for _, f := range files {
		f.Close()
	}
	defer func() {
		stdin.Close()
		if cmd.ProcessState == nil {
			cmd.Wait()
		}
	}()
	out := bufio.NewScanner(stdout)
	require.True(t, out.Scan(), "child said nothing")
	require.Equal(t, fmt.Sprintf("ready %d %s", len(files), addr), out.Text())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.Drain(ctx))
	require.Empty(t, e.Addrs())
	parent := served[0].Load()
	waitFor(t, "the child to serve", func() bool { return served[1].Load() >= 50 })
	require.Equal(t, parent, served[0].Load(), "the parent served after Drain")

	stopClients()
	require.Empty(t, errs, "connection attempts failed")
	stdin.Close()
	require.True(t, out.Scan(), "child said nothing at exit")
	var accepted int64
	_, err = fmt.Sscanf(out.Text(), "accepted %d", &accepted)
	require.NoError(t, err, "child said %q", out.Text())
	require.NoError(t, cmd.Wait())
	require.Equal(t, served[1].Load(), accepted)
	total := served[0].Load() + served[1].Load()
	require.Equal(t, attempts.Load(), total, "every attempt served")
	t.Logf("parent served %d, child %d", served[0].Load(), served[1].Load())
}
