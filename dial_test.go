package evsel_test

import (
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/internal/testenv"
)

// DialConfig's Control sees the socket before it connects, with the
// address dialed, as net.Dialer's does; LocalAddr is where it connects
// from; an error from Control fails the dial.
func TestDialConfig(t *testing.T) {
	ln, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	target := mustLocal(t, ln).String()

	var calls []controlCall
	dc := evsel.DialConfig{Control: recordControl(&calls, nil), LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	c, err := dc.Dial("tcp", target)
	require.NoError(t, err)
	cleanupClose(t, c)
	require.Len(t, calls, 1)
	assert.Equal(t, controlCall{"tcp4", target, c.Fd()}, calls[0])
	local, err := c.LocalAddr()
	require.NoError(t, err)
	assert.True(t, tcpAddr(t, local).IP.Equal(net.IPv4(127, 0, 0, 1)), "%v", local)

	// A LocalAddr that is not the host's fails the dial, as a bind does.
	notOurs := evsel.DialConfig{LocalAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}} // TEST-NET-1
	_, err = notOurs.Dial("tcp", target)
	assert.Error(t, err, "a stream socket bound to an address not the host's")
	if !testenv.Wine { // Wine binds a datagram socket to any address
		notOurs.LocalAddr = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1)}
		_, err = notOurs.DialPacket("udp", target)
		assert.Error(t, err, "a datagram socket bound to an address not the host's")
	}

	refused := errors.New("refused by Control")
	_, err = evsel.DialConfig{Control: recordControl(&calls, refused)}.Dial("tcp", target)
	assert.ErrorIs(t, err, refused)
	_, err = evsel.DialConfig{Control: recordControl(&calls, refused)}.DialPacket("udp", target)
	assert.ErrorIs(t, err, refused)
}

// A datagram client bound with LocalAddr sends from it: the server sees
// the port it chose.
func TestDialConfigPacketLocalAddr(t *testing.T) {
	server, err := evsel.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, server)
	// A port free a moment ago (found with evsel's socket: Go's net UDP
	// fails under Wine).
	free, err := evsel.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := mustLocal(t, free).(*net.UDPAddr).Port
	require.NoError(t, free.Close())

	var calls []controlCall
	dc := evsel.DialConfig{Control: recordControl(&calls, nil), LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}
	client, err := dc.DialPacket("udp", mustLocal(t, server).String())
	require.NoError(t, err)
	cleanupClose(t, client)
	assert.Equal(t, []controlCall{{"udp4", mustLocal(t, server).String(), client.Fd()}}, calls)

	_, err = client.Write([]byte("ping"))
	require.NoError(t, err)
	p := newPoller(t, evsel.Backends()[0])
	require.NoError(t, p.Add(int(server.Fd()), evsel.EventRead))
	defer p.Delete(int(server.Fd()))
	buf := make([]byte, 16)
	n, from, _ := recvWait(t, p, server, buf)
	assert.Equal(t, "ping", string(buf[:n]))
	assert.Equal(t, uint16(port), from.Port())
}

// A "unixgram" client bound to a path can be answered.
func TestDialConfigUnixgramLocalAddr(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix datagram sockets (TestUnixDatagram checks the refusal)")
	}
	dir := t.TempDir()
	server, err := evsel.ListenPacket("unixgram", filepath.Join(dir, "server"))
	require.NoError(t, err)
	cleanupClose(t, server)
	dc := evsel.DialConfig{LocalAddr: &net.UnixAddr{Name: filepath.Join(dir, "client"), Net: "unixgram"}}
	client, err := dc.DialPacket("unixgram", filepath.Join(dir, "server"))
	require.NoError(t, err)
	cleanupClose(t, client)

	_, err = client.Write([]byte("ping"))
	require.NoError(t, err)
	p := newPoller(t, evsel.Backends()[0])
	require.NoError(t, p.Add(int(server.Fd()), evsel.EventRead))
	defer p.Delete(int(server.Fd()))
	buf := make([]byte, 16)
	var from string
	for {
		n, path, _, err := server.RecvFromPath(buf)
		if err == evsel.ErrWouldBlock {
			waitFor(t, p, int(server.Fd()), evsel.EventRead)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, "ping", string(buf[:n]))
		from = path
		break
	}
	require.Equal(t, filepath.Join(dir, "client"), from)
	_, err = server.SendToPath([]byte("pong"), from)
	require.NoError(t, err)
	require.NoError(t, p.Add(int(client.Fd()), evsel.EventRead))
	defer p.Delete(int(client.Fd()))
	for {
		n, err := client.Read(buf)
		if err == evsel.ErrWouldBlock {
			waitFor(t, p, int(client.Fd()), evsel.EventRead)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, "pong", string(buf[:n]))
		break
	}
}
