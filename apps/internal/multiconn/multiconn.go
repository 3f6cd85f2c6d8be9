// Package multiconn is the logic of the multi-connection echo programs
// (apps/multiconn-server, apps/multiconn-client, apps/demo) as loop.Handler
// implementations, so the programs and the in-process demo share it.
//
// The Server echoes whatever it reads, printing the lines of Real Python's
// multiconn-server.py. The Client opens connections with Engine.Dial, sends
// each its messages (by default the Python client's two, or random payloads
// of a given size), checks every byte that comes back against what it sent,
// closes a connection once everything it sent has returned (or on EOF), and
// reports when no connection is left.
package multiconn

import (
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/evsel/evsel/apps/internal/linelog"
	"github.com/evsel/evsel/apps/internal/pyfmt"
	"github.com/evsel/evsel/loop"
)

// Printer writes whole lines to w from any goroutine; a nil *Printer or one
// with a nil writer prints nothing. It calls w under its lock from the
// loops' callbacks, so w must not block: the programs give it a
// linelog.Writer, which queues.
type Printer struct {
	mu   sync.Mutex
	w    io.Writer
	lw   *linelog.Writer // w, when it is one: lineBytes writes to it without a copy
	held []string        // lines kept back by Hold
	hold bool
}

// Hold keeps lines back until Release, so a program can print its first
// line (the address it listens on) only once it knows it, and still before
// any line of a connection accepted in the meantime.
func (p *Printer) Hold() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.hold = true
	p.mu.Unlock()
}

// Release writes first (if not empty), then the lines kept back, and stops
// holding.
func (p *Printer) Release(first string) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var sb strings.Builder
	if first != "" {
		sb.WriteString(first)
		sb.WriteByte('\n')
	}
	for _, l := range p.held {
		sb.WriteString(l)
	}
	p.held, p.hold = nil, false
	io.WriteString(p.w, sb.String())
}

// NewPrinter returns a Printer writing to w (nil: print nothing).
func NewPrinter(w io.Writer) *Printer {
	lw, _ := w.(*linelog.Writer)
	return &Printer{w: w, lw: lw}
}

// Line writes s and a newline as one write.
func (p *Printer) Line(s string) {
	if p == nil || p.w == nil {
		return
	}
	var sb strings.Builder
	sb.Grow(len(s) + 1)
	sb.WriteString(s)
	sb.WriteByte('\n')
	p.mu.Lock()
	if p.hold {
		p.held = append(p.held, sb.String())
	} else {
		io.WriteString(p.w, sb.String())
	}
	p.mu.Unlock()
}

// lineBytes is Line for a line already built, newline included, in b,
// which it does not keep: a caller can build it on its stack. Through a
// linelog.Writer (the programs' output) it allocates nothing.
func (p *Printer) lineBytes(b []byte) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	switch {
	case p.hold:
		p.held = append(p.held, string(b))
	case p.lw != nil:
		p.lw.Write(b)
	default:
		// A copy, so that b does not escape through the interface.
		io.WriteString(p.w, string(b))
	}
	p.mu.Unlock()
}

// On reports whether the Printer prints anything, so callers can skip
// building lines nobody sees.
func (p *Printer) On() bool { return p != nil && p.w != nil }

// expectedClose reports whether err is an ordinary end of a connection: a
// close asked for by the application, or the peer's EOF.
func expectedClose(err error) bool {
	return err == nil || errors.Is(err, io.EOF)
}

// addrOf returns the Python repr of the connection's peer address.
func addrOf(c *loop.Conn) string { return pyfmt.Addr(c.RemoteAddr()) }
