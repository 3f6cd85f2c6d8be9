package loop

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memConn is one end of an in-memory, buffered connection. Until nonblock
// is set its Read waits for bytes; after, it returns errTLSWouldBlock when
// it has none, as the loop's transport does.
type memConn struct {
	mu       sync.Mutex
	cond     *sync.Cond
	in       []byte
	peer     *memConn
	nonblock bool
	closed   bool
}

func memPipe() (*memConn, *memConn) {
	a, b := &memConn{}, &memConn{}
	a.cond, b.cond = sync.NewCond(&a.mu), sync.NewCond(&b.mu)
	a.peer, b.peer = b, a
	return a, b
}

func (m *memConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.in) == 0 {
		if m.nonblock {
			return 0, errTLSWouldBlock
		}
		if m.closed {
			return 0, net.ErrClosed
		}
		m.cond.Wait()
	}
	n := copy(p, m.in)
	m.in = m.in[n:]
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error) {
	m.peer.push(p)
	return len(p), nil
}

func (m *memConn) push(p []byte) {
	m.mu.Lock()
	m.in = append(m.in, p...)
	m.mu.Unlock()
	m.cond.Broadcast()
}

// take removes and returns what is buffered for reading.
func (m *memConn) take() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.in
	m.in = nil
	return b
}

func (m *memConn) setNonblock() { m.mu.Lock(); m.nonblock = true; m.mu.Unlock() }

func (m *memConn) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cond.Broadcast()
	return nil
}
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// TestTLSTemporaryReadContract pins what the loop's TLS read path is built
// on (see tls.go): when crypto/tls's transport Read returns a net.Error
// whose Temporary() is true, tls.Conn.Read returns that error without
// recording it, keeps the part of a record it has, and a later Read
// carries on once the rest arrives. It feeds records a byte at a time, for
// both protocol versions. If this fails after a Go upgrade, TLS on the loop
// is broken: do not loosen the test, change the design.
func TestTLSTemporaryReadContract(t *testing.T) {
	p := getPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			a, b := memPipe()
			defer a.Close()
			defer b.Close()
			scfg := p.serverConfig()
			scfg.MinVersion, scfg.MaxVersion = v, v
			server, client := tls.Server(a, scfg), tls.Client(b, p.clientConfig())
			errc := make(chan error, 1)
			go func() { errc <- client.Handshake() }()
			require.NoError(t, server.Handshake())
			require.NoError(t, <-errc)

			a.setNonblock()
			buf := make([]byte, 64)
			// Drain what followed the handshake (TLS 1.3 session tickets go
			// the other way; nothing should be readable yet).
			_, err := server.Read(buf)
			require.ErrorIs(t, err, errTLSWouldBlock, "crypto/tls must pass the transport's Temporary error through")

			for round, msg := range []string{"first record", "second record"} {
				_, err := client.Write([]byte(msg))
				require.NoError(t, err)
				rec := a.take()
				require.Greater(t, len(rec), len(msg))
				for i := range rec {
					a.push(rec[i : i+1])
					n, err := server.Read(buf)
					if i < len(rec)-1 {
						require.ErrorIs(t, err, errTLSWouldBlock,
							"round %d byte %d of %d: crypto/tls no longer returns the Temporary error for a partial record; TLS on the loop depends on it", round, i, len(rec))
						require.Zero(t, n)
						continue
					}
					require.NoError(t, err, "round %d: crypto/tls did not keep its state across Temporary errors; TLS on the loop depends on it", round)
					require.Equal(t, msg, string(buf[:n]))
				}
			}
			// And writing still works after all those errors on the read side.
			_, err = server.Write([]byte("reply"))
			require.NoError(t, err)
			got := make([]byte, 5)
			_, err = client.Read(got)
			require.NoError(t, err)
			require.Equal(t, "reply", string(got))
		})
	}
}
