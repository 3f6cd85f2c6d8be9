package main

// The instruction count (-instructions): each server runs under valgrind's
// callgrind, which counts the instructions it executes in user space, and
// the count over the load generator's window is divided by the messages
// of that window. On a shared host, where CPU time per message moves by
// ±10–15% between runs, this figure moves far less (about 3% with 64
// connections): the kernel's work is left out (it is the same for every
// server making the same system calls), and what remains is the engine's
// own work per message, the part issue 13 asks to shrink. Instructions are
// not cycles: a cache miss costs no more than an add here, so the figure
// says how much work there is, not how long it takes.

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evsel/evsel/bench/internal/report"
)

// callgrindPrefix is the command a server runs under, its output file
// named by the server's pid (%p) in dir. valgrind's control pipes go to
// dir too: the server is killed, so valgrind never removes them itself.
func callgrindPrefix(dir string) []string {
	return []string{"valgrind", "--tool=callgrind", vgdbPrefix(dir), "--callgrind-out-file=" + filepath.Join(dir, "callgrind.%p")}
}

func vgdbPrefix(dir string) string { return "--vgdb-prefix=" + filepath.Join(dir, "vgdb-pipe") }

// callgrindControlTimeout bounds one zero or dump: callgrind_control waits
// for the server to act, and a server that cannot must not hang the run
// (the load generator's output is read by the goroutine that waits).
const callgrindControlTimeout = 30 * time.Second

// callgrindEnv: callgrind asserts on a signal arriving while it handles
// another, which the Go runtime's preemption signals make likely.
var callgrindEnv = []string{"GODEBUG=asyncpreemptoff=1"}

// uringServers cannot run under valgrind, which does not follow the
// kernel's writes into io_uring's shared rings (the server never starts
// serving).
var uringServers = []string{report.EvselUring, report.CUring}

// checkCallgrind reports what is missing to count instructions.
func checkCallgrind() error {
	for _, tool := range []string{"valgrind", "callgrind_control"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("-instructions needs %s on PATH (Debian: apt-get install valgrind)", tool)
		}
	}
	return nil
}

// callgrindWindow zeroes the counts of the server with pid at the start
// of the window and dumps them at its end; callgrind_control waits until
// the server has done it. Each lags the load generator's mark by one such
// round trip (tens of milliseconds), at both ends alike.
func (h *harness) callgrindWindow(ctx context.Context, pid int, start bool) error {
	cmd := "--dump"
	if start {
		cmd = "--zero"
	}
	ctx, cancel := context.WithTimeout(ctx, callgrindControlTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "callgrind_control", vgdbPrefix(h.callgrindDir), cmd, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("callgrind_control %s: %w: %s", cmd, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runInstructions is runLoad with the server under callgrind, in a
// directory of its own under root: it sets run.InstrPerMsg from the dump
// the window's end made.
func (h *harness) runInstructions(ctx context.Context, root string, cell report.Cell, server string, round int) report.Run {
	dir, err := os.MkdirTemp(root, "run-")
	if err != nil {
		return report.Run{Cell: cell, Server: server, Err: err.Error()}
	}
	defer os.RemoveAll(dir)
	h.callgrindDir = dir
	run := h.runLoad(ctx, cell, server)
	h.callgrindDir = ""
	if run.Err != "" {
		return run
	}
	// The window's dump is the server's first: callgrind.<pid>.1.
	dumps, err := filepath.Glob(filepath.Join(dir, "callgrind.*.1"))
	if err == nil && len(dumps) != 1 {
		err = fmt.Errorf("callgrind: %d dumps of the window, want 1", len(dumps))
	}
	var total int64
	if err == nil {
		total, err = callgrindTotal(dumps[0])
	}
	if err == nil && h.opts.callgrindKeep != "" {
		err = keepDump(dumps[0], h.opts.callgrindKeep, fmt.Sprintf("%s-%s-%d", cell.Name(), server, round))
	}
	if err != nil {
		run.Err = err.Error()
		return run
	}
	if run.Load.Messages <= 0 {
		run.Err = "no messages in the window"
		return run
	}
	run.InstrPerMsg = float64(total) / float64(run.Load.Messages)
	return run
}

// keepDump copies a window's dump to dir as name.callgrind, with the
// cell's spaces and '=' made file-name friendly.
func keepDump(dump, dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name = strings.NewReplacer(" ", "_", "=", "", "/", "_").Replace(name)
	b, err := os.ReadFile(dump)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".callgrind"), b, 0o644)
}

// callgrindTotal reads the instruction total of a callgrind dump (its
// "totals:" line, or "summary:" in older formats).
func callgrindTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("callgrind dump: %w", err)
	}
	defer f.Close()
	return parseCallgrindTotal(f)
}

func parseCallgrindTotal(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var summary int64 = -1
	for sc.Scan() {
		line := sc.Text()
		for _, key := range []string{"totals:", "summary:"} {
			if v, ok := strings.CutPrefix(line, key); ok {
				fields := strings.Fields(v)
				if len(fields) == 0 {
					return 0, fmt.Errorf("callgrind dump: empty %q line", key)
				}
				n, err := strconv.ParseInt(fields[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("callgrind dump: %q: %w", line, err)
				}
				if key == "totals:" {
					return n, nil
				}
				summary = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("callgrind dump: %w", err)
	}
	if summary < 0 {
		return 0, errors.New("callgrind dump: no totals line")
	}
	return summary, nil
}

// writeInstructions is the Markdown of an instruction count: per cell,
// each server's instructions per message (median over rounds) and its
// ratio to the first column's.
func writeInstructions(w *strings.Builder, meta report.Meta, runs []report.Run, servers []string) {
	report.WriteHeading(w, meta)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "User-space instructions per echoed message (callgrind; the kernel's work is not counted). Ratio to the first column in brackets, where it has a figure.")
	fmt.Fprintln(w)
	var cells []report.Cell
	for _, r := range runs {
		if !slices.Contains(cells, r.Cell) {
			cells = append(cells, r.Cell)
		}
	}
	fmt.Fprint(w, "| cell |")
	for _, s := range servers {
		fmt.Fprintf(w, " %s |", meta.Labels.Of(s))
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("--:|", len(servers)))
	var failures []string
	for _, c := range cells {
		fmt.Fprintf(w, "| %s |", c.Name())
		base := 0.0 // the first column's figure; none: no ratios in the row
		for i, s := range servers {
			var v []float64
			for _, r := range runs {
				if r.Cell == c && r.Server == s {
					if r.Err != "" {
						failures = append(failures, fmt.Sprintf("%s / %s: %s", c.Name(), s, r.Err))
					} else {
						v = append(v, r.InstrPerMsg)
					}
				}
			}
			if len(v) == 0 {
				fmt.Fprint(w, " – |")
				continue
			}
			m := report.Median(v)
			switch {
			case i == 0:
				base = m
				fmt.Fprintf(w, " %.0f |", m)
			case base > 0:
				fmt.Fprintf(w, " %.0f (%.2f) |", m, m/base)
			default:
				fmt.Fprintf(w, " %.0f |", m)
			}
		}
		fmt.Fprintln(w)
	}
	if len(failures) > 0 {
		fmt.Fprintln(w, "\n## Errors")
		for _, f := range failures {
			fmt.Fprintf(w, "- %s\n", f)
		}
	}
}

// writeInstructionRun prints an instruction count's table and writes it
// to instructions.md in the results directory.
func writeInstructionRun(o *options, args []string, base *baseline, pinDesc string, notes []string,
	runs []report.Run, root string, stdout, stderr io.Writer) (*summary, error) {
	meta := newMeta("evsel instruction count", args, base, notes,
		fmt.Sprintf("%s; every server under valgrind --tool=callgrind (GODEBUG=asyncpreemptoff=1), counts zeroed at the load generator's window start and dumped at its end (each one callgrind_control round trip late); warm-up %v, measured %v; %d round(s), medians shown",
			pinDesc, o.warmup, o.measure, o.rounds))
	if meta.Baseline != "" {
		// The heading's baseline line speaks of the CPU report's ÷base
		// columns; this table has ratios to its first column instead.
		meta.Notes = append(meta.Notes, meta.Labels.Of(report.EvselBase)+" is evsel built from "+meta.Baseline)
		meta.Baseline = ""
	}
	var md strings.Builder
	writeInstructions(&md, meta, runs, o.servers)
	io.WriteString(stdout, md.String())
	sum := &summary{Runs: runs, Markdown: md.String()}
	for _, r := range runs {
		if r.Err != "" {
			sum.Rows = append(sum.Rows, report.Row{Failures: []string{r.Err}})
		}
	}
	outDir := cmp.Or(o.out, filepath.Join(root, "results"))
	if outDir != "-" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, err
		}
		path := filepath.Join(outDir, "instructions.md")
		if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
			return nil, err
		}
		sum.Files = append(sum.Files, path)
		fmt.Fprintf(stderr, "bench: wrote %s\n", path)
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, meta, runs); err != nil {
			return nil, err
		}
	}
	return sum, nil
}
