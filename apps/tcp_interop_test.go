package apps_test

// tcpserver and tcpclient against the Python originals of the socketserver
// example (testdata/python/TCPServer.py, TCPClient.py) in every pairing,
// and the servers' -systemd flag with a socket passed as systemd passes it.

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpBins builds tcpserver and tcpclient into binDir, once; they are built
// here rather than in TestMain's list so that this file stands alone.
var tcpBins = sync.OnceValue(func() error {
	out, err := exec.Command(goTool(), "build", "-o", binDir+string(os.PathSeparator), "./tcpserver", "./tcpclient").CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
})

func needTCPBins(t *testing.T) {
	t.Helper()
	require.NoError(t, tcpBins(), "building tcpserver and tcpclient")
}

// waitBound waits until something listens on the loopback port: the
// servers print nothing when they start, and a probe connection would be
// served and printed, so the probe is a bind that must fail.
func waitBound(t *testing.T, srv *proc, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return
		}
		ln.Close()
		select {
		case <-srv.done:
			t.Fatalf("server exited: %s", srv.describe())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %d: %s", port, srv.describe())
		}
	}
}

// tcpWords are the clients' arguments: the documentation's two examples,
// bytes Python's repr escapes, UTF-8 that bytes.upper leaves alone, nothing
// at all, and more than one recv(1024) takes.
var tcpWords = [][]string{
	{"hello", "world", "with", "TCP"},
	{"python", "is", "nice"},
	{"it's", `"quoted"`, "back\\slash", "tab\there"},
	{"h\u00e9llo", "w\u00f6rld", "\U0001F40D"},
	{},
	{strings.Repeat("x", 1500)},
}

// TestTCPServerClientPython runs each client against each server, Go and
// Python, and requires the four pairings to print the same lines: every
// client the same two lines, every server the same two per connection.
func TestTCPServerClientPython(t *testing.T) {
	t.Parallel()
	needTCPBins(t)
	servers := map[string]func(port string) []string{
		"go": func(port string) []string { return goCmd("tcpserver", "127.0.0.1", port) },
		"py": func(port string) []string { return pyCmd(t, "TCPServer.py", "127.0.0.1", port) },
	}
	clients := map[string]func(port string, words []string) []string{
		"go": func(port string, words []string) []string {
			return goCmd("tcpclient", append([]string{"-host", "127.0.0.1", "-port", port}, words...)...)
		},
		"py": func(port string, words []string) []string {
			return pyCmd(t, "TCPClient.py", append([]string{"-host", "127.0.0.1", "-port", port}, words...)...)
		},
	}
	clientOut := map[string][]string{} // by pairing, every client's lines
	serverOut := map[string][]string{}
	for sname, server := range servers {
		for cname, client := range clients {
			pairing := cname + " client, " + sname + " server"
			port := freePort(t)
			srv := start(t, server(strconv.Itoa(port))...)
			waitBound(t, srv, port)
			for _, words := range tcpWords {
				cl := run(t, 20*time.Second, client(strconv.Itoa(port), words)...)
				require.Zero(t, cl.code, "%s: %s", pairing, cl.describe())
				clientOut[pairing] = append(clientOut[pairing], cl.Lines()...)
			}
			n := 2 * len(tcpWords)
			srv.WaitLines(regexp.MustCompile(``), n, 10*time.Second)
			srv.cmd.Process.Signal(syscall.SIGINT)
			srv.Wait(10 * time.Second)
			lines := srv.Lines()
			if sname == "go" {
				require.Equal(t, "Caught keyboard interrupt, exiting", lines[len(lines)-1], srv.describe())
				require.Zero(t, srv.code, srv.describe())
				lines = lines[:len(lines)-1]
			}
			serverOut[pairing] = lines
		}
	}
	want := clientOut["py client, py server"]
	require.Equal(t, []string{
		"Sent:     hello world with TCP", "Received: HELLO WORLD WITH TCP",
		"Sent:     python is nice", "Received: PYTHON IS NICE",
	}, want[:4], "the documentation's example output")
	wantSrv := serverOut["py client, py server"]
	require.Equal(t, []string{"127.0.0.1 wrote:", "b'hello world with TCP'"}, wantSrv[:2])
	for pairing, got := range clientOut {
		require.Equal(t, want, got, "client lines, %s", pairing)
		require.Equal(t, wantSrv, serverOut[pairing], "server lines, %s", pairing)
	}
}

// TestServersSystemd starts each server as systemd would: a listening
// socket the test made is the child's descriptor 3, LISTEN_FDS=1 and
// LISTEN_PID its own pid (set by a shell that then execs the server). The
// server must serve that socket and print its address.
func TestServersSystemd(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no socket activation on Windows")
	}
	t.Parallel()
	needTCPBins(t)
	activated := func(t *testing.T, argv ...string) (*proc, int) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		f, err := ln.(*net.TCPListener).File()
		require.NoError(t, err)
		ln.Close()
		defer f.Close() // the child has its copy once started
		shell := append([]string{"/bin/sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@"`}, argv...)
		p := startPrep(t, func(cmd *exec.Cmd) { cmd.ExtraFiles = []*os.File{f} }, shell...)
		return p, ln.Addr().(*net.TCPAddr).Port
	}

	t.Run("tcpserver", func(t *testing.T) {
		srv, port := activated(t, goCmd("tcpserver", "-systemd")...)
		cl := run(t, 20*time.Second, pyCmd(t, "TCPClient.py", "-host", "127.0.0.1", "-port", strconv.Itoa(port), "activated")...)
		require.Zero(t, cl.code, cl.describe())
		require.Equal(t, []string{"Sent:     activated", "Received: ACTIVATED"}, cl.Lines())
		require.Zero(t, srv.Interrupt(), srv.describe())
		require.Equal(t, []string{"127.0.0.1 wrote:", "b'activated'", "Caught keyboard interrupt, exiting"}, srv.Lines())
	})
	t.Run("multiconn-server", func(t *testing.T) {
		srv, port := activated(t, goCmd("multiconn-server", "-systemd")...)
		m := srv.WaitLines(listeningRE, 1, 10*time.Second)
		require.Equal(t, strconv.Itoa(port), m[0][1])
		checkClient(t, start(t, pyCmd(t, "multiconn-client.py", "127.0.0.1", strconv.Itoa(port), "3")...), 3, port, false)
		checkServer(t, srv, 3)
	})
	t.Run("app-server", func(t *testing.T) {
		srv, port := activated(t, goCmd("app-server", "-systemd")...)
		m := srv.WaitLines(listeningRE, 1, 10*time.Second)
		require.Equal(t, strconv.Itoa(port), m[0][1])
		out := appOutput(t, goCmd("app-client", "127.0.0.1", strconv.Itoa(port), "search", "ring")...)
		require.Contains(t, out, appCases[1].got)
		require.Zero(t, srv.Interrupt(), srv.describe())
	})
	t.Run("udp-echo-server", func(t *testing.T) {
		udpBins(t)
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		f, err := pc.(*net.UDPConn).File()
		require.NoError(t, err)
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		shell := append([]string{"/bin/sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@"`}, goCmd("udp-echo-server", "-systemd")...)
		srv := startPrep(t, func(cmd *exec.Cmd) { cmd.ExtraFiles = []*os.File{f} }, shell...)
		f.Close()
		srv.WaitLines(regexp.MustCompile(`^Listening on \('127\.0\.0\.1', `+strconv.Itoa(port)+`\)$`), 1, 10*time.Second)
		cl := run(t, 20*time.Second, goCmd("udp-echo-client", "-port", strconv.Itoa(port), "activated", "datagram")...)
		require.Zero(t, cl.code, cl.describe())
		require.Equal(t, []string{"Sent:     activated datagram", "Received: activated datagram"}, cl.Lines())
		require.Zero(t, srv.Interrupt(), srv.describe())
	})
	t.Run("no sockets", func(t *testing.T) {
		p := run(t, 20*time.Second, goCmd("tcpserver", "-systemd")...)
		require.Equal(t, 1, p.code, p.describe())
		require.Contains(t, p.Stderr(), "no inherited listening sockets")
	})
}

// TestTCPServerBoundedAndSIGTERM: tcpserver closes a connection that sends
// nothing at -first-byte-timeout, serves a client meanwhile, and stops on
// SIGTERM with its line and status 0.
func TestTCPServerBoundedAndSIGTERM(t *testing.T) {
	t.Parallel()
	needTCPBins(t)
	port := freePort(t)
	srv := start(t, goCmd("tcpserver", "-first-byte-timeout", "300ms", "127.0.0.1", strconv.Itoa(port))...)
	waitBound(t, srv, port)
	silent, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	require.NoError(t, err)
	defer silent.Close()
	cl := run(t, 20*time.Second, goCmd("tcpclient", "-host", "127.0.0.1", "-port", strconv.Itoa(port), "meanwhile")...)
	require.Equal(t, []string{"Sent:     meanwhile", "Received: MEANWHILE"}, cl.Lines(), cl.describe())
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = silent.Read(make([]byte, 1))
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the silent connection is still open")

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.Zero(t, srv.Wait(20*time.Second), srv.describe())
	require.Equal(t, []string{"127.0.0.1 wrote:", "b'meanwhile'", "Caught SIGTERM, exiting"}, srv.Lines())
	require.Contains(t, srv.Stderr(), "no input since accept", "the deadline close is reported")
}
