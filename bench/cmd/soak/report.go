package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/evsel/evsel/bench/internal/procinfo"
)

// progress prints a line every 5 s while the load runs.
func (p *peers) progress(ctx context.Context, w io.Writer, pid int, rssMax *atomic.Int64) {
	start := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s, _ := procinfo.Read(pid)
		fds, _ := procinfo.CountFDs(pid)
		g := &p.tallies[good]
		fmt.Fprintf(w, "%4.0fs  server RSS %s (peak %s), %d descriptors; good round trips %d, failures %d; closed by the server: never-readers %d, uploads %d, silent %d\n",
			time.Since(start).Seconds(), mib(s.RSS), mib(rssMax.Load()), fds,
			g.msgs.Load(), g.failures.Load(),
			p.tallies[nonReader].closed.Load(), p.tallies[uploader].closed.Load(), p.tallies[silent].closed.Load())
	}
}

// print writes the figures.
func (r *report) print(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "\nsoak: %d connections for %s against multiconn-server -max-memory %s %v (seed %d)\n",
		c.conns, c.duration, mib(c.maxMemory), c.flags, c.seed)
	if r.peers == nil {
		return
	}
	counts := split(c.conns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "peers\tat once\tconnections\tended by server\tMB sent\tMB verified\tfailures\t")
	for k := range kinds {
		t := &r.peers.tallies[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%d\t\n", kindNames[k], counts[k], t.conns.Load(), t.closed.Load(),
			float64(t.sent.Load())/1e6, float64(t.verified.Load())/1e6, t.failures.Load())
	}
	tw.Flush()
	h := r.peers.latency
	g := &r.peers.tallies[good]
	fmt.Fprintf(w, "well-behaved round trips: %d; latency p50 %s, p99 %s, p99.9 %s, max %s\n", g.msgs.Load(),
		us(h.ValueAtQuantile(50)), us(h.ValueAtQuantile(99)), us(h.ValueAtQuantile(99.9)), us(h.Max()))
	fmt.Fprintf(w, "server RSS: %s before, peak %s (bound %s = budget + %s), %s after\n",
		mib(r.rssBefore), mib(r.rssMax), mib(c.maxMemory+c.rssSlack), mib(c.rssSlack), mib(r.rssEnd))
	fmt.Fprintf(w, "server descriptors: %d before, %d after (back %.1f s after the peers left); goroutines: %d after, %d in a server never used\n",
		r.fdsBefore, r.fdsEnd, r.drained.Seconds(), r.goroutine, r.goroutinesIdle)
	fmt.Fprintf(w, "server CPU: %.1f s\n", r.serverCPU.Seconds())
}

func us(v int64) string { return (time.Duration(v) * time.Microsecond).String() }
