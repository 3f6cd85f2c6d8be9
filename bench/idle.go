package main

// The idle-memory test: a server's resident memory per connection it holds
// open and silent.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/evsel/evsel/bench/internal/procinfo"
	"github.com/evsel/evsel/bench/internal/report"
)

// runIdle measures a server's resident memory before and after n idle
// connections are accepted.
func (h *harness) runIdle(ctx context.Context, cell report.Cell, server string) report.Run {
	run := report.Run{Cell: cell, Server: server}
	if !h.haveProcs {
		run.Err = "the idle-memory test needs /proc"
		return run
	}
	kind := "echo"
	if cell.Kind == "tls-idle" {
		kind = cell.Kind
	}
	// multiconn-server takes no commands: it has no after-GC figure.
	gcable := server != report.Multiconn
	srv, err := h.startServer(ctx, program(kind, server), gcable, serverArgs(server)...)
	if err != nil {
		run.Err = err.Error()
		return run
	}
	defer srv.stop()
	addr := srv.addr

	// Two figures: the RSS as it is (what a user sees) and the RSS after a
	// forced collection on both sides (live memory, without the garbage
	// the collector has not got to yet).
	sleep(ctx, 300*time.Millisecond) // let the runtime settle after start-up
	before, err := procinfo.Read(srv.pid)
	if err == nil && gcable {
		err = srv.gc(ctx)
	}
	var beforeGC procinfo.Sample
	if err == nil && gcable {
		beforeGC, err = procinfo.Read(srv.pid)
	}
	if err != nil {
		run.Err = err.Error()
		return run
	}
	fds0, err := procinfo.CountFDs(srv.pid)
	if err != nil {
		run.Err = err.Error()
		return run
	}

	// The load generator holds the connections until its stdin closes.
	pr, pw, err := os.Pipe()
	if err != nil {
		run.Err = err.Error()
		return run
	}
	defer pw.Close()
	ready := make(chan int, 1)
	var stdout strings.Builder
	args := []string{"-addr", addr, "-conns", strconv.Itoa(cell.Conns), "-idle"}
	if cell.Kind == "tls-idle" {
		args = append(args, "-tls")
	}
	lg, err := spawn(ctx, "loadgen", h.loadCPUs, h.bin("loadgen"), args, nil, pr,
		func(line string) { stdout.WriteString(line + "\n") },
		func(line string) {
			if n, ok := strings.CutPrefix(line, "idle-ready "); ok {
				k, _ := strconv.Atoi(n)
				ready <- k
				return
			}
			h.logf("loadgen: %s", line)
		})
	pr.Close()
	if err != nil {
		run.Err = err.Error()
		return run
	}
	defer lg.kill()

	var connected int
	select {
	case connected = <-ready:
	case <-lg.done:
		run.Err = "load generator exited before opening its connections: " + lg.describe()
		return run
	case <-time.After(60 * time.Second):
		run.Err = "load generator did not open its connections within 60s"
		return run
	case <-ctx.Done():
		run.Err = ctx.Err().Error()
		return run
	}

	// Wait until the server holds a descriptor for every connection, then
	// until its RSS stops moving.
	fds := fds0
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if fds, err = procinfo.CountFDs(srv.pid); err == nil && fds-fds0 >= connected {
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	after, err := stableRSS(ctx, srv.pid)
	if err == nil && gcable {
		err = srv.gc(ctx)
	}
	var afterGC procinfo.Sample
	if err == nil && gcable {
		afterGC, err = procinfo.Read(srv.pid)
	}
	if err != nil {
		run.Err = err.Error()
		return run
	}
	pw.Close() // release the connections
	select {
	case <-lg.done:
	case <-time.After(30 * time.Second):
		run.Err = "load generator did not exit after the idle test"
		return run
	}
	var res struct {
		Connected    int      `json:"connected"`
		Errors       int64    `json:"errors"`
		ErrorSamples []string `json:"error_samples"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		run.Err = fmt.Sprintf("load generator output: %v: %q", err, stdout.String())
		return run
	}
	if srv.exited() {
		run.Err = "server died during the idle test: " + srv.describe()
		return run
	}
	run.Load.Errors = res.Errors
	run.Load.ErrorSamples = res.ErrorSamples
	run.Load.Conns, run.Load.Connected = cell.Conns, res.Connected
	idle := &report.Idle{
		Conns: cell.Conns, Connected: res.Connected, Accepted: fds - fds0,
		RSSBefore: before.RSS, RSSAfter: after, RSSBeforeGC: beforeGC.RSS, RSSAfterGC: afterGC.RSS,
	}
	if idle.Accepted < res.Connected {
		run.Load.Errors++
		run.Load.ErrorSamples = append(run.Load.ErrorSamples,
			fmt.Sprintf("server holds %d descriptors for %d connections", idle.Accepted, res.Connected))
	}
	if res.Connected > 0 {
		idle.BytesPerConn = float64(after-before.RSS) / float64(res.Connected)
		if gcable {
			idle.BytesPerConnGC = float64(afterGC.RSS-beforeGC.RSS) / float64(res.Connected)
		}
	} else {
		run.Err = "no connection opened"
	}
	run.Idle = idle
	run.SrvRSS = after
	return run
}

// stableRSS samples the RSS until two readings 200ms apart agree within
// 16 KiB (or 3s pass) and returns the last.
func stableRSS(ctx context.Context, pid int) (int64, error) {
	prev, err := procinfo.Read(pid)
	if err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		sleep(ctx, 200*time.Millisecond)
		s, err := procinfo.Read(pid)
		if err != nil {
			return 0, err
		}
		d := s.RSS - prev.RSS
		prev = s
		if d >= -16<<10 && d <= 16<<10 {
			break
		}
	}
	return prev.RSS, ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
