// Package load is the benchmark's load generator: N connections in a closed
// loop (send, read the whole reply, verify it, repeat), optionally keeping
// several requests in flight per connection, with a warm-up and a measured
// window, and the idle-connection holder used for the memory test.
package load

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/evsel/evsel/apps/refapp"
)

// Workload says what a connection sends and what it must get back.
type Workload interface {
	// Name is "echo" or "app", as reported.
	Name() string
	// Size is the request size in bytes (for echo, the message size).
	Size() int
	// Conn returns the request/response logic for connection id.
	Conn(id int) ConnWorkload
}

// ConnWorkload is one connection's view of a workload. It is used by one
// goroutine at a time (the writer for AppendRequest, the reader for the
// rest), and must not keep state that both touch.
type ConnWorkload interface {
	// AppendRequest appends the bytes of request number seq.
	AppendRequest(dst []byte, seq uint64) []byte
	// ResponseLen is the length of the reply to request seq.
	ResponseLen(seq uint64) int
	// Verify reports whether got is the correct reply to request seq.
	Verify(seq uint64, got []byte) bool
}

// echoHeader is what makes each echoed message unique: the sequence number
// and the connection id, so a reply that is stale, duplicated or crossed
// with another connection's fails verification.
const echoHeader = 12

// Echo is the echo workload: messages of size bytes, each stamped with its
// connection and sequence number, the rest a fixed pattern shared by all
// connections (so 8,192 connections do not each hold their own copy).
type Echo struct {
	size    int
	pattern []byte
}

// NewEcho returns the echo workload for messages of size bytes (at least 1).
func NewEcho(size int) *Echo {
	if size < 1 {
		size = 1
	}
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return &Echo{size: size, pattern: p}
}

func (e *Echo) Name() string { return "echo" }
func (e *Echo) Size() int    { return e.size }

func (e *Echo) Conn(id int) ConnWorkload { return &echoConn{e: e, id: uint32(id)} }

type echoConn struct {
	e  *Echo
	id uint32
}

func (c *echoConn) stamp(dst []byte, seq uint64) {
	var h [echoHeader]byte
	binary.LittleEndian.PutUint64(h[:], seq)
	binary.LittleEndian.PutUint32(h[8:], c.id)
	copy(dst, h[:])
}

func (c *echoConn) AppendRequest(dst []byte, seq uint64) []byte {
	start := len(dst)
	dst = append(dst, c.e.pattern...)
	c.stamp(dst[start:], seq)
	return dst
}

func (c *echoConn) ResponseLen(uint64) int { return c.e.size }

func (c *echoConn) Verify(seq uint64, got []byte) bool {
	if len(got) != c.e.size {
		return false
	}
	var want [echoHeader]byte
	c.stamp(want[:min(echoHeader, c.e.size)], seq)
	h := min(echoHeader, c.e.size)
	return bytes.Equal(got[:h], want[:h]) && bytes.Equal(got[h:], c.e.pattern[h:])
}

// App is the application-protocol workload: framed search requests (the
// reference client's), each answered by the reference server's framed
// response. Requests rotate over the server's table and a miss.
type App struct {
	reqs, resps [][]byte
}

// AppQueries are the search values the app workload rotates through: the
// three the reference server knows and one it does not.
var AppQueries = []string{"morpheus", "ring", "\U0001F436", "neo"}

// NewApp builds the request and expected response frames with the
// reference application, so the expected bytes are exactly what the
// reference server sends.
func NewApp() (*App, error) {
	a := &App{}
	for _, q := range AppQueries {
		req := refapp.ClientRequest(refapp.ActionSearch, q)
		reqFrame, err := req.AppendFrame(nil)
		if err != nil {
			return nil, fmt.Errorf("app workload: request %q: %w", q, err)
		}
		resp, err := refapp.ServerResponse(req)
		if err != nil {
			return nil, fmt.Errorf("app workload: response %q: %w", q, err)
		}
		respFrame, err := resp.AppendFrame(nil)
		if err != nil {
			return nil, fmt.Errorf("app workload: response frame %q: %w", q, err)
		}
		a.reqs = append(a.reqs, reqFrame)
		a.resps = append(a.resps, respFrame)
	}
	return a, nil
}

func (a *App) Name() string { return "app" }

// Size is the mean request size.
func (a *App) Size() int {
	n := 0
	for _, r := range a.reqs {
		n += len(r)
	}
	return n / len(a.reqs)
}

func (a *App) Conn(int) ConnWorkload { return a }

func (a *App) AppendRequest(dst []byte, seq uint64) []byte {
	return append(dst, a.reqs[seq%uint64(len(a.reqs))]...)
}

func (a *App) ResponseLen(seq uint64) int { return len(a.resps[seq%uint64(len(a.resps))]) }

func (a *App) Verify(seq uint64, got []byte) bool {
	return bytes.Equal(got, a.resps[seq%uint64(len(a.resps))])
}
