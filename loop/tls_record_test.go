package loop

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordScan(t *testing.T) {
	rec := func(n int) []byte {
		r := make([]byte, recordHeaderLen+n)
		r[0], r[1], r[2], r[3], r[4] = 0x17, 3, 3, byte(n>>8), byte(n)
		return r
	}
	stream := append(append(append(rec(300), rec(0)...), rec(1)...), rec(17000)...)
	// Every way of cutting the stream in two, and byte by byte, must agree
	// with where the records end.
	ends := map[int]bool{0: true, 305: true, 310: true, 316: true, len(stream): true}
	for cut := 0; cut <= len(stream); cut += 1 + cut/97 {
		var s recordScan
		s.scan(stream[:cut])
		assert.Equal(t, !ends[cut], s.partial(), "cut at %d", cut)
		s.scan(stream[cut:])
		assert.False(t, s.partial())
		assert.EqualValues(t, 4, s.records)
	}
	var s recordScan
	for i, b := range stream[:330] {
		s.scan([]byte{b})
		assert.Equal(t, !ends[i+1], s.partial(), "after byte %d", i)
	}
	assert.Equal(t, recordHeaderLen+17000, s.pending(), "the announced record")
	s = recordScan{}
	s.scan(stream[:3])
	assert.Equal(t, recordHeaderLen, s.pending(), "a header is all it can know of")
}

// recordPeer is the socket under a crypto/tls client that can hold back
// what crypto/tls writes, so the test can send its records as it likes.
type recordPeer struct {
	net.Conn
	hold  bool
	held  []byte
	write func([]byte) (int, error) // if set, writes go there instead
}

func (p *recordPeer) Write(b []byte) (int, error) {
	switch {
	case p.hold:
		p.held = append(p.held, b...)
		return len(b), nil
	case p.write != nil:
		return p.write(b)
	}
	return p.Conn.Write(b)
}

// record encrypts msg as crypto/tls would send it, without sending it.
func (p *recordPeer) record(t *testing.T, c *tls.Conn, msg string) []byte {
	p.hold = true
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	p.hold = false
	r := p.held
	p.held = nil
	return r
}

// tlsRecordPeer connects a crypto/tls client, handshake done.
func tlsRecordPeer(t *testing.T, addr string) (*tls.Conn, *recordPeer) {
	return tlsRecordPeerOver(t, dial(t, addr))
}

// tlsRecordPeerOver is tlsRecordPeer over a connection already made.
func tlsRecordPeerOver(t *testing.T, conn net.Conn) (*tls.Conn, *recordPeer) {
	raw := &recordPeer{Conn: conn}
	c := tls.Client(raw, getPKI(t).clientConfig())
	c.SetDeadline(time.Now().Add(10 * time.Second))
	require.NoError(t, c.Handshake())
	assert.Equal(t, "hi", string(roundTrip(t, c, []byte("hi"))))
	return c, raw
}

// TestTLSRecordDeadline: a record begun and never finished, or finished a
// byte at a time too slowly, closes its connection with
// ErrTLSRecordTimeout though the idle timeout would not (every byte is
// activity); while incomplete it counts in the memory budget; a record
// split over a pause within the deadline is delivered; the rest are served.
func TestTLSRecordDeadline(t *testing.T) {
	const deadline = time.Second
	closes := make(chan error, 4)
	h := Funcs{Data: echo.Data, Close: func(c *Conn, err error) { closes <- err }}
	e, addr := startTLS(t, h, Options{Loops: 1, TLSHandshakeTimeout: deadline, IdleTimeout: 10 * deadline}, getPKI(t).serverConfig())
	good := dialTLS(t, addr, getPKI(t).clientConfig())
	// Once the server has opened it: its handshake input (the client's
	// Finished) counts until then.
	assert.Equal(t, "open", string(roundTrip(t, good, []byte("open"))))
	// Its output counts until the send is complete, which on io_uring the
	// loop may learn after the peer has the bytes.
	waitFor(t, "the good connection to hold nothing", func() bool { return e.Stats().MemoryHeld == 0 })
	base := e.Stats().MemoryHeld

	// A header announcing 16 KB and a few bytes of it.
	_, stalled := tlsRecordPeer(t, addr)
	start := time.Now()
	_, err := stalled.Conn.Write([]byte{0x17, 0x03, 0x03, 0x40, 0x00, 1, 2, 3})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.Stats().MemoryHeld-base >= 16<<10 },
		5*time.Second, 5*time.Millisecond, "the record being assembled is not counted")
	closedByServer(t, stalled.Conn, 10*deadline)
	assert.GreaterOrEqual(t, time.Since(start), deadline, "closed before its deadline")
	assert.ErrorIs(t, <-closes, ErrTLSRecordTimeout)
	waitFor(t, "the record to be released", func() bool { return e.Stats().MemoryHeld == base })

	// The same, a byte every deadline/8: activity, but no whole record.
	_, trickle := tlsRecordPeer(t, addr)
	stop := make(chan struct{})
	go func() {
		hdr := []byte{0x17, 0x03, 0x03, 0x40, 0x00}
		for i := 0; ; i++ {
			b := byte(i)
			if i < len(hdr) {
				b = hdr[i]
			}
			if _, err := trickle.Conn.Write([]byte{b}); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(deadline / 8):
			}
		}
	}()
	closedByServer(t, trickle.Conn, 10*deadline)
	close(stop)
	assert.ErrorIs(t, <-closes, ErrTLSRecordTimeout)

	// Real records, each sent in two halves with a pause between them well
	// within the deadline: each half-record has a deadline of its own.
	c, raw := tlsRecordPeer(t, addr)
	for i := range 3 {
		r := raw.record(t, c, "split")
		_, err := raw.Conn.Write(r[:len(r)/2])
		require.NoError(t, err)
		time.Sleep(deadline / 3)
		_, err = raw.Conn.Write(r[len(r)/2:])
		require.NoError(t, err)
		got := make([]byte, 5)
		_, err = io.ReadFull(c, got)
		require.NoError(t, err, "round %d", i)
		assert.Equal(t, "split", string(got))
	}
	assert.Equal(t, "still", string(roundTrip(t, good, []byte("still"))))
	assert.EqualValues(t, 2, e.Stats().TLSRecordTimeouts)
	select {
	case err := <-closes:
		t.Fatalf("closed: %v", err)
	default:
	}
}

// TestTLSRecordDeadlineWaitsWhileNotReading: the deadline is the peer's.
// A client slow to read a large answer makes the server stop reading
// (HighWater) with part of its next record taken and the rest waiting in
// the kernel: it is not closed however long that lasts, and once it reads,
// its record completes and is answered.
func TestTLSRecordDeadlineWaitsWhileNotReading(t *testing.T) {
	const deadline = 400 * time.Millisecond
	const big = 8 << 20
	closes := make(chan error, 1)
	h := Funcs{
		Data: func(c *Conn) {
			in := c.Inbound()
			if bytes.HasPrefix(in, []byte("big")) {
				c.Write(bytes.Repeat([]byte("x"), big))
				c.Consume(3)
				return
			}
			echo.Data(c)
		},
		Close: func(c *Conn, err error) { closes <- err },
	}
	// Small socket buffers: the 8 MiB take the output past HighWater
	// whatever the system's defaults.
	_, addr := startTLS(t, h, Options{Loops: 1, TLSHandshakeTimeout: deadline, HighWater: 64 << 10, SocketWriteBuffer: smallSendBuffer}, getPKI(t).serverConfig())
	c, raw := tlsRecordPeerOver(t, dialSmall(t, addr))
	first, next := raw.record(t, c, "big"), raw.record(t, c, "after")
	_, err := raw.Conn.Write(append(first, next[:len(next)/2]...))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	_, err = raw.Conn.Write(next[len(next)/2:]) // whole now, but the server is not reading
	require.NoError(t, err)
	time.Sleep(3 * deadline) // a slow reader
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, big+5)
	n, err := io.ReadFull(c, got)
	select {
	case err := <-closes:
		t.Fatalf("closed while the server was not reading: %v (read %d)", err, n)
	default:
	}
	require.NoError(t, err)
	assert.Equal(t, "after", string(got[big:]))
}
