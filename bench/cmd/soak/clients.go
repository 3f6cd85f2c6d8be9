package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// kind is one sort of peer in the mix.
type kind int

const (
	good      kind = iota // request/response echo, every byte verified; must never fail
	slowlory              // one byte every couple of seconds, echo verified
	silent                // connects and sends nothing
	nonReader             // sends as fast as it can, never reads
	uploader              // streams megabytes and reads the echo back, verified
	resetter              // connects, sends a little, resets
	kinds
)

var kindNames = [kinds]string{"good", "slowloris", "silent", "never-reader", "upload", "reset"}

// mix is each kind's share of the connections, in percent.
var mix = [kinds]int{good: 10, slowlory: 25, silent: 25, nonReader: 25, uploader: 10, resetter: 5}

// tally is what the peers of one kind did.
type tally struct {
	conns    atomic.Int64 // connections opened
	closed   atomic.Int64 // connections the server ended (EOF or reset) while the peer wanted more
	failures atomic.Int64 // verification failures: a byte that came back wrong
	sent     atomic.Int64 // bytes written
	verified atomic.Int64 // bytes read back and verified
	msgs     atomic.Int64 // good: round trips completed

	mu       sync.Mutex
	firstErr error
}

func (t *tally) fail(err error) {
	t.failures.Add(1)
	t.mu.Lock()
	if t.firstErr == nil {
		t.firstErr = err
	}
	t.mu.Unlock()
}

// peers runs the client side of the soak.
type peers struct {
	addr    string
	seed    uint64
	tallies [kinds]tally

	latMu   sync.Mutex
	latency *hdrhistogram.Histogram // good clients' round trips, µs
}

func newPeers(addr string, seed uint64) *peers {
	return &peers{addr: addr, seed: seed, latency: hdrhistogram.New(1, 60_000_000, 3)}
}

// run starts n peers of kind k; each keeps a connection open (reconnecting
// when the server ends one) until ctx ends.
func (p *peers) run(ctx context.Context, wg *sync.WaitGroup, k kind, n int) {
	for i := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(p.seed, uint64(k)<<32|uint64(i)))
			// Spread the connects over the first second so that the
			// backlog does not overflow into SYN retries.
			if !sleep(ctx, time.Duration(rng.Int64N(int64(time.Second)))) {
				return
			}
			for ctx.Err() == nil {
				if !p.session(ctx, k, i, rng) {
					return
				}
			}
		})
	}
}

// session runs one connection of a peer; false means stop for good.
func (p *peers) session(ctx context.Context, k kind, id int, rng *rand.Rand) bool {
	t := &p.tallies[k]
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if k == good {
			t.fail(fmt.Errorf("connect: %w", err))
			return false
		}
		t.closed.Add(1)
		return sleep(ctx, 100*time.Millisecond)
	}
	t.conns.Add(1)
	// Closing the connection is how a peer blocked in Read or Write
	// learns the soak is over.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()

	switch k {
	case good:
		err = p.echoLoop(ctx, c, id, rng)
	case slowlory:
		err = p.slowLoop(ctx, c, rng)
	case silent:
		_, err = c.Read(make([]byte, 1))
	case nonReader:
		err = p.flood(c, rng)
	case uploader:
		err = p.upload(c, rng)
	case resetter:
		err = p.reset(ctx, c, rng)
	}
	if ctx.Err() != nil {
		return false
	}
	var vf *verifyError
	switch {
	case errors.As(err, &vf):
		t.fail(err)
	case err != nil && k == good:
		t.fail(err)
		return false
	case err != nil:
		t.closed.Add(1)
	}
	return true
}

// verifyError is a byte that came back wrong: a failure for every kind.
type verifyError struct{ what string }

func (e *verifyError) Error() string { return "verify: " + e.what }

// echoLoop is the well-behaved client: a message of 64 B to 16 KiB, its
// whole echo read and compared, a short think time, again.
func (p *peers) echoLoop(ctx context.Context, c net.Conn, id int, rng *rand.Rand) error {
	t := &p.tallies[good]
	msg := make([]byte, 16<<10)
	got := make([]byte, len(msg))
	hist := hdrhistogram.New(1, 60_000_000, 3)
	defer func() {
		p.latMu.Lock()
		p.latency.Merge(hist)
		p.latMu.Unlock()
	}()
	for seq := uint64(0); ; seq++ {
		n := 64 + rng.IntN(len(msg)-64)
		pattern(msg[:n], uint64(id)<<40|seq)
		start := time.Now()
		if _, err := c.Write(msg[:n]); err != nil {
			return err
		}
		t.sent.Add(int64(n))
		if _, err := io.ReadFull(c, got[:n]); err != nil {
			return fmt.Errorf("after %d round trips: %w", seq, err)
		}
		hist.RecordValue(time.Since(start).Microseconds())
		if !bytes.Equal(got[:n], msg[:n]) {
			return &verifyError{fmt.Sprintf("good client %d message %d differs", id, seq)}
		}
		t.verified.Add(int64(n))
		t.msgs.Add(1)
		if !sleep(ctx, time.Duration(rng.Int64N(int64(20*time.Millisecond)))) {
			return nil
		}
	}
}

// slowLoop sends one byte at once and then every 1–3 s, inside the
// first-byte and idle timeouts, and reads each back.
func (p *peers) slowLoop(ctx context.Context, c net.Conn, rng *rand.Rand) error {
	t := &p.tallies[slowlory]
	b := make([]byte, 1)
	for {
		want := byte(rng.Uint32())
		if _, err := c.Write([]byte{want}); err != nil {
			return err
		}
		t.sent.Add(1)
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		if b[0] != want {
			return &verifyError{"slowloris byte differs"}
		}
		t.verified.Add(1)
		if !sleep(ctx, time.Second+time.Duration(rng.Int64N(int64(2*time.Second)))) {
			return nil
		}
	}
}

// flood writes 64 KiB chunks until the server ends the connection; the
// echo piles up in the server until backpressure and the budget act.
func (p *peers) flood(c net.Conn, rng *rand.Rand) error {
	t := &p.tallies[nonReader]
	buf := make([]byte, 64<<10)
	pattern(buf, rng.Uint64())
	for {
		n, err := c.Write(buf)
		t.sent.Add(int64(n))
		if err != nil {
			return err
		}
	}
}

// upload streams 4–16 MiB in 64 KiB writes while another goroutine reads
// the echo at full speed and checks it, then ends the session.
func (p *peers) upload(c net.Conn, rng *rand.Rand) error {
	t := &p.tallies[uploader]
	total := (4 + rng.IntN(13)) << 20
	key := rng.Uint64()
	chunk := make([]byte, 64<<10)
	pattern(chunk, key)
	readErr := make(chan error, 1)
	go func() {
		got := make([]byte, len(chunk))
		for off := 0; off < total; {
			n, err := io.ReadFull(c, got)
			if err != nil {
				readErr <- err
				return
			}
			if !bytes.Equal(got[:n], chunk[:n]) {
				readErr <- &verifyError{"upload echo differs"}
				return
			}
			off += n
			t.verified.Add(int64(n))
		}
		readErr <- nil
	}()
	for off := 0; off < total; off += len(chunk) {
		n, err := c.Write(chunk)
		t.sent.Add(int64(n))
		if err != nil {
			c.Close() // ends the reader too
			<-readErr
			return err
		}
	}
	return <-readErr
}

// reset sends up to 32 KiB, waits a moment and resets the connection
// (SO_LINGER 0), leaving the server with unsent echo to drop.
func (p *peers) reset(ctx context.Context, c net.Conn, rng *rand.Rand) error {
	t := &p.tallies[resetter]
	buf := make([]byte, 1+rng.IntN(32<<10))
	n, err := c.Write(buf)
	t.sent.Add(int64(n))
	if err != nil {
		return err
	}
	sleep(ctx, time.Duration(rng.Int64N(int64(100*time.Millisecond))))
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return nil
}

// pattern fills b with bytes derived from key, so that a byte from another
// message or another offset does not match.
func pattern(b []byte, key uint64) {
	var w [8]byte
	x := key | 1
	for i := 0; i < len(b); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(w[:], x)
		copy(b[i:], w[:])
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
