package loop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// peer runs an outside program for the test, bounded in time; its output
// comes line by line on lines, which is closed when it exits.
type peer struct {
	cmd   *exec.Cmd
	lines chan string
	stdin io.WriteCloser
	done  chan error
	mu    sync.Mutex
	all   []string
}

// needTool skips the test when the outside program name is missing (under
// Wine neither python3 nor openssl is on the Windows path). Tests call it
// before writing their files: Wine cannot remove a test's temporary
// directory once it holds files.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", name)
	}
}

func startPeer(t *testing.T, name string, args ...string) *peer {
	t.Helper()
	needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	p := &peer{cmd: exec.CommandContext(ctx, name, args...), lines: make(chan string, 1024), done: make(chan error, 1)}
	out, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	var err error
	p.stdin, err = p.cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		err := p.cmd.Wait()
		w.Close()
		p.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.all = append(p.all, sc.Text())
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		cancel()
	})
	return p
}

// wait returns the exit status once the program is done.
func (p *peer) wait(t *testing.T) error {
	t.Helper()
	for range p.lines {
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("peer did not exit")
		return nil
	}
}

func (p *peer) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.all, "\n")
}

// expect waits for a line containing s.
func (p *peer) expect(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("peer exited before printing %q; output:\n%s", s, p.output())
			}
			if strings.Contains(line, s) {
				return line
			}
		case <-timeout:
			t.Fatalf("peer never printed %q; output:\n%s", s, p.output())
		}
	}
}

// TestTLSPythonClient: Python's ssl module as client (non-blocking sockets
// over a selector, as the multiconn client), TLS 1.2 and 1.3, 1 MiB each
// way on several connections, and close_notify both ways via unwrap().
func TestTLSPythonClient(t *testing.T) {
	needTool(t, "python3")
	p := getPKI(t)
	ca, _, _ := p.files(t)
	closes := make(chan error, 16)
	h := Funcs{Data: echo.Data, Close: func(c *Conn, err error) { closes <- err }}
	cfg := p.serverConfig()
	cfg.NextProtos = []string{"evsel/1"}
	_, addr := startTLS(t, h, Options{Loops: 2}, cfg)
	host, port, _ := net.SplitHostPort(addr)
	for _, v := range []string{"1.2", "1.3"} {
		t.Run(v, func(t *testing.T) {
			const n = 3
			py := startPeer(t, "python3", "testdata/tls_peer.py", "client", host, port, ca, "3", "1048576", v)
			require.NoError(t, py.wait(t), py.output())
			out := py.output()
			assert.Equal(t, n, strings.Count(out, "TLSv"+v+" evsel/1"), out)
			assert.Equal(t, n, strings.Count(out, "closed "), out)
			for range n {
				assert.Equal(t, io.EOF, <-closes, "the client's close_notify")
			}
		})
	}
}

// TestTLSPythonServer: WithTLS against Python's ssl server; the server sees
// our close_notify.
func TestTLSPythonServer(t *testing.T) {
	needTool(t, "python3")
	p := getPKI(t)
	ca, cert, key := p.files(t)
	_ = ca
	py := startPeer(t, "python3", "testdata/tls_peer.py", "server", cert, key, "2")
	port := strings.TrimPrefix(py.expect(t, "port "), "port ")
	e := newClientEngineWith(t, Options{HighWater: echoPeerHighWater})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := p.clientConfig()
		cfg.MinVersion, cfg.MaxVersion = v, v
		cfg.NextProtos = []string{"evsel/1"}
		big := make([]byte, 1<<20)
		rand.Read(big)
		r := dialEcho(t, e, "127.0.0.1:"+port, cfg, big)
		require.True(t, r.opened, "%v", r.err)
		assert.Equal(t, "evsel/1", r.state.NegotiatedProtocol)
		assert.True(t, bytes.Equal(big, r.got))
		py.expect(t, "handshake")
		py.expect(t, "clean close")
	}
	require.NoError(t, py.wait(t), py.output())
}

// TestTLSOpenSSLClient: openssl s_client, TLS 1.3 with a KeyUpdate the
// client asks us to answer (a post-handshake message handled on the loop),
// and TLS 1.2.
func TestTLSOpenSSLClient(t *testing.T) {
	needTool(t, "openssl")
	p := getPKI(t)
	ca, _, _ := p.files(t)
	closes := make(chan error, 4)
	h := Funcs{Data: echo.Data, Close: func(c *Conn, err error) { closes <- err }}
	cfg := p.serverConfig()
	cfg.NextProtos = []string{"evsel/1"}
	_, addr := startTLS(t, h, Options{Loops: 1}, cfg)
	for _, v := range []string{"-tls1_3", "-tls1_2"} {
		t.Run(v, func(t *testing.T) {
			ossl := startPeer(t, "openssl", "s_client", "-connect", addr, "-CAfile", ca,
				"-servername", "localhost", "-alpn", "evsel/1", v, "-verify_return_error")
			ossl.expect(t, "Verify return code: 0 (ok)")
			io.WriteString(ossl.stdin, "before update\n")
			ossl.expect(t, "before update")
			if v == "-tls1_3" {
				io.WriteString(ossl.stdin, "K\n") // KeyUpdate, update_requested
				ossl.expect(t, "KEYUPDATE")
			}
			io.WriteString(ossl.stdin, "after update\n")
			ossl.expect(t, "after update")
			ossl.stdin.Close() // s_client sends close_notify and exits
			require.NoError(t, ossl.wait(t), ossl.output())
			assert.Equal(t, io.EOF, <-closes, ossl.output())
		})
	}
}

// TestTLSRenegotiationRefused: openssl s_client asks for a TLS 1.2
// renegotiation; crypto/tls refuses it (its default), which closes that
// connection with crypto/tls's error.
func TestTLSRenegotiationRefused(t *testing.T) {
	needTool(t, "openssl")
	p := getPKI(t)
	ca, _, _ := p.files(t)
	closes := make(chan error, 4)
	h := Funcs{Data: echo.Data, Close: func(c *Conn, err error) { closes <- err }}
	_, addr := startTLS(t, h, Options{Loops: 1}, p.serverConfig())
	ossl := startPeer(t, "openssl", "s_client", "-connect", addr, "-CAfile", ca,
		"-servername", "localhost", "-tls1_2", "-verify_return_error")
	ossl.expect(t, "Verify return code: 0 (ok)")
	io.WriteString(ossl.stdin, "before\n")
	ossl.expect(t, "before")
	io.WriteString(ossl.stdin, "R\n")
	select {
	case err := <-closes:
		require.Error(t, err)
		t.Logf("closed with %v", err)
	case <-time.After(20 * time.Second):
		t.Fatalf("renegotiation neither refused nor closed; output:\n%s", ossl.output())
	}
	ossl.stdin.Close()
	ossl.wait(t)
}
