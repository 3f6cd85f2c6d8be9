package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evsel/evsel/bench/internal/report"
)

func TestInstructionFlags(t *testing.T) {
	o, err := parseFlags([]string{"-instructions"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cells := plan(o)
	var names []string
	for _, pc := range cells {
		names = append(names, pc.cell.Name()+" "+strings.Join(pc.servers, ","))
	}
	want := "echo c=1 64B evsel,c|echo c=64 64B evsel,c|echo c=64 64B d=16 evsel,c"
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("-instructions plan:\n got %s\nwant %s", got, want)
	}
	if o.syscalls || o.rounds != 1 {
		t.Errorf("-instructions defaults: syscalls %v rounds %d", o.syscalls, o.rounds)
	}
	o, err = parseFlags([]string{"-instructions", "-baseline", "HEAD~1", "-conns", "8"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.servers, ","); got != "evsel,evsel-base,c" || len(o.conns) != 1 || o.conns[0] != 8 {
		t.Errorf("-instructions -baseline: servers %q conns %v", got, o.conns)
	}
	refused(t, [][]string{
		{"-instructions", "-servers", "evsel,evsel-uring"}, // valgrind cannot run io_uring
		{"-instructions", "-servers", "c-uring"},
		{"-instructions", "-quick"},
		{"-instructions", "-idle", "100"}, // echo cells only
		{"-instructions", "-tls-conns", "64"},
		{"-instructions", "-syscalls"},
		{"-callgrind-keep", "/tmp/x"}, // nothing to keep without -instructions
	})
}

func TestKeepDump(t *testing.T) {
	src := filepath.Join(t.TempDir(), "callgrind.7.1")
	if err := os.WriteFile(src, []byte("totals: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "kept")
	cell := report.Cell{Kind: "echo", Conns: 64, Size: 64, Depth: 16}
	if err := keepDump(src, dir, cell.Name()+"-evsel-0"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "echo_c64_64B_d16-evsel-0.callgrind"))
	if err != nil || string(got) != "totals: 5\n" {
		t.Fatalf("kept dump: %q, %v", got, err)
	}
}

func TestParseCallgrindTotal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"version: 1\nevents: Ir\nsummary: 150\nfn=x\n1 2\ntotals: 147861727\n", 147861727, true},
		{"events: Ir\nsummary: 42\n", 42, true}, // no totals line: the summary
		{"events: Ir\nfn=x\n", 0, false},
		{"totals: many\n", 0, false},
		{"totals:\n", 0, false},
	} {
		got, err := parseCallgrindTotal(strings.NewReader(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%q: %d, %v; want %d (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestWriteInstructions(t *testing.T) {
	cell := report.Cell{Kind: "echo", Conns: 64, Size: 64}
	other := report.Cell{Kind: "echo", Conns: 1, Size: 64}
	runs := []report.Run{
		{Cell: cell, Server: "evsel", InstrPerMsg: 900},
		{Cell: cell, Server: "evsel", InstrPerMsg: 1000, Round: 1},
		{Cell: cell, Server: "evsel", InstrPerMsg: 5000, Round: 2}, // the median ignores it
		{Cell: cell, Server: "c", InstrPerMsg: 100},
		{Cell: cell, Server: "net", Err: "server died"},
		{Cell: other, Server: "evsel", Err: "no messages in the window"},
		{Cell: other, Server: "c", InstrPerMsg: 70},
	}
	var b strings.Builder
	writeInstructions(&b, report.Meta{Title: "t", Labels: report.Labels{"net": "net@x"}}, runs, []string{"evsel", "c", "net"})
	out := b.String()
	for _, want := range []string{"| cell | evsel | c | net@x |", // columns by label, as the main report"| echo c=64 64B | 1000 | 100 (0.10) | – |", "## Errors", "echo c=64 64B / net: server died",
		"| echo c=1 64B | – | 70 | – |"} { // no first column: no ratio
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// TestInstructionCount runs the real thing on the smallest cell: the C
// floor under callgrind makes a few dozen instructions per message, evsel
// some hundreds. It needs valgrind: .ci/run installs it, and elsewhere the
// test is skipped without it.
func TestInstructionCount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers under valgrind")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc for the C floor")
	}
	if err := checkCallgrind(); err != nil {
		t.Skip(err)
	}
	var out bytes.Buffer
	sum, err := run(t.Context(), []string{"-instructions", "-conns", "4", "-depth", "0", "-warmup", "500ms", "-measure", "1s",
		"-progress=false", "-out", "-"}, &out, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range sum.Runs {
		if r.Err != "" {
			t.Fatalf("%s: %s", r.Server, r.Err)
		}
		got[r.Server] = r.InstrPerMsg
	}
	if got["c"] <= 0 || got["c"] > 1000 || got["evsel"] <= got["c"] || got["evsel"] > 100000 {
		t.Errorf("instructions per message out of range: %v\n%s", got, out.String())
	}
}
