package multiconn

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Payload returns message msg (1-based) of connection conn: the Python
// client's "Message <msg> from client." when size is 0, else size random
// bytes drawn from seed, conn and msg, so every message differs.
func Payload(seed uint64, conn, msg, size int) []byte {
	if size <= 0 {
		return []byte("Message " + strconv.Itoa(msg) + " from client.")
	}
	r := rand.New(rand.NewPCG(seed, uint64(conn)<<32|uint64(uint32(msg))))
	p := make([]byte, size)
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := i; j < min(i+8, size); j++ {
			p[j] = byte(v)
			v >>= 8
		}
	}
	return p
}

// Verifier checks an echoed byte stream against what was sent. It holds
// only the bytes sent and not yet echoed, so a sender that bounds its bytes
// in flight bounds its memory.
type Verifier struct {
	pending  [][]byte // sent and not yet verified, oldest first
	off      int      // verified bytes of pending[0]
	inflight int
	verified int64
}

// Sent records p as sent; the Verifier keeps p, so the caller must not
// modify it afterwards.
func (v *Verifier) Sent(p []byte) {
	if len(p) == 0 {
		return
	}
	v.pending = append(v.pending, p)
	v.inflight += len(p)
}

// InFlight returns the bytes sent and not yet echoed.
func (v *Verifier) InFlight() int { return v.inflight }

// Verified returns the bytes echoed correctly so far.
func (v *Verifier) Verified() int64 { return v.verified }

// Check verifies b, the next bytes echoed. It returns an error naming the
// offset of the first byte that differs from what was sent, or of the
// first byte that was never sent; the bytes before it count as verified.
func (v *Verifier) Check(b []byte) error {
	for len(b) > 0 {
		if len(v.pending) == 0 {
			return fmt.Errorf("%d unexpected bytes after byte %d", len(b), v.verified)
		}
		head := v.pending[0][v.off:]
		n := min(len(head), len(b))
		if !bytes.Equal(head[:n], b[:n]) {
			i := 0
			for head[i] == b[i] {
				i++
			}
			v.advance(i)
			return fmt.Errorf("byte %d is %#02x, sent %#02x", v.verified, b[i], head[i])
		}
		v.advance(n)
		b = b[n:]
	}
	return nil
}

// advance marks n bytes of pending[0] (n <= what remains of it) verified.
func (v *Verifier) advance(n int) {
	v.off += n
	v.inflight -= n
	v.verified += int64(n)
	if v.off == len(v.pending[0]) {
		v.pending[0] = nil
		v.pending = v.pending[1:]
		v.off = 0
		if len(v.pending) == 0 {
			v.pending = nil
		}
	}
}
