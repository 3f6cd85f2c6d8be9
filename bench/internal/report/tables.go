package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// RatioTable writes one row per cell: evsel ÷ net and evsel ÷ gnet for
// CPU per message, throughput and p99, the target check against gnet, and
// evsel's CPU per message ÷ the C floor's with issue 13's check (≤ 1.05× C
// and ≤ net), and evsel-uring's ÷ the C io_uring floor's with issue 14's
// (≤ 1.05× C-uring), and evsel's ÷ the Go floor's (go-epoll): what the
// engine costs over a Go loop that does nothing but echo. When evsel-base
// ran, three more columns give evsel ÷ evsel-base: the change being
// measured. The CPU ratios are CPURatio's, paired round by round, so they
// need not equal the ratio of the detail table's medians.
func RatioTable(b *strings.Builder, rows []Row, cells []Cell) {
	base := slices.ContainsFunc(rows, func(r Row) bool { return r.Server == EvselBase })
	b.WriteString("| cell | CPU/msg ÷net | CPU/msg ÷gnet | msgs/s ÷net | msgs/s ÷gnet | p99 ÷net | p99 ÷gnet | targets vs gnet | CPU/msg ÷C | target vs C | CPU/msg ÷go-epoll | evsel-uring CPU/msg ÷C-uring | target vs C-uring |")
	if base {
		b.WriteString(" CPU/msg ÷base | msgs/s ÷base | p99 ÷base |")
	}
	b.WriteString("\n|---|--:|--:|--:|--:|--:|--:|---|--:|---|--:|--:|---|")
	if base {
		b.WriteString("--:|--:|--:|")
	}
	b.WriteString("\n")
	for _, c := range cells {
		ev, ok := find(rows, c, Evsel)
		uring, uok := find(rows, c, EvselUring)
		if !ok && !uok {
			continue
		}
		if !ok {
			ev = Row{MsgsPerS: math.NaN(), P99: math.NaN(), CPUPerMsg: math.NaN()}
		}
		ratios := func(other string) (cpu, thr, p99 float64) {
			o, ok := find(rows, c, other)
			if !ok {
				return math.NaN(), math.NaN(), math.NaN()
			}
			return CPURatio(ev, o), Ratio(ev.MsgsPerS, o.MsgsPerS), Ratio(ev.P99, o.P99)
		}
		nc, nt, np := ratios(Net)
		gc, gt, gp := ratios(Gnet)
		cc, _, _ := ratios(C)
		goc, _, _ := ratios(GoEpoll)
		uc := math.NaN()
		if floor, ok := find(rows, c, CUring); ok && uok {
			uc = CPURatio(uring, floor)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", c.Name(),
			FormatRatio(nc), FormatRatio(gc), FormatRatio(nt), FormatRatio(gt),
			FormatRatio(np), FormatRatio(gp), TargetCheck(gc, gt, gp), FormatRatio(cc), TargetCheckC(cc, nc),
			FormatRatio(goc), FormatRatio(uc), TargetCheckCUring(uc))
		if base {
			bc, bt, bp := ratios(EvselBase)
			fmt.Fprintf(b, " %s | %s | %s |", FormatRatio(bc), FormatRatio(bt), FormatRatio(bp))
		}
		b.WriteString("\n")
	}
}

// TargetCheck marks each target met (✓) or missed (✗); "–" without gnet.
func TargetCheck(cpu, thr, p99 float64) string {
	if math.IsNaN(cpu) && math.IsNaN(thr) && math.IsNaN(p99) {
		return "–"
	}
	mark := func(ok bool, v float64) string {
		switch {
		case math.IsNaN(v):
			return "?"
		case ok:
			return "✓"
		}
		return "✗"
	}
	return fmt.Sprintf("cpu %s thr %s p99 %s",
		mark(cpu <= TargetCPURatio, cpu), mark(thr >= TargetThroughput, thr), mark(p99 <= TargetP99, p99))
}

// TargetCheckC marks issue 13's target for evsel's CPU per message: at
// most TargetCPUvsC × the C floor's (vsC) and at most net's (vsNet);
// "–" when the C floor did not run.
func TargetCheckC(vsC, vsNet float64) string {
	if math.IsNaN(vsC) {
		return "–"
	}
	mark := "✓"
	if vsC > TargetCPUvsC || vsNet > 1 {
		mark = "✗"
	}
	return fmt.Sprintf("cpu %s", mark)
}

// TargetCheckCUring marks issue 14's target for evsel-uring's CPU per
// message: at most TargetCPUvsCUring × the C io_uring floor's; "–" when
// either did not run.
func TargetCheckCUring(vsCUring float64) string {
	if math.IsNaN(vsCUring) {
		return "–"
	}
	if vsCUring > TargetCPUvsCUring {
		return "cpu ✗"
	}
	return "cpu ✓"
}

// DetailTable writes one row per cell and server, servers named by labels;
// ÷C and ÷C-uring are the server's CPU per message over the C floors' in
// the same cell, syscalls/msg the system calls it made per message.
func DetailTable(b *strings.Builder, rows []Row, cells []Cell, labels Labels) {
	b.WriteString("| cell | server | CPU µs/msg | ÷C | ÷C-uring | syscalls/msg | msgs/s | MB/s | p50 µs | p99 µs | p99.9 µs | server CPU | loadgen CPU | steal | server RSS | errors |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range cells {
		floor, haveC := find(rows, c, C)
		uringFloor, haveCUring := find(rows, c, CUring)
		for _, r := range rows {
			if r.Cell != c {
				continue
			}
			vsC, vsCUring := math.NaN(), math.NaN()
			if haveC {
				vsC = CPURatio(r, floor)
			}
			if haveCUring {
				vsCUring = CPURatio(r, uringFloor)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n",
				c.Name(), labels.Of(r.Server), FormatFloat(r.CPUPerMsg, 2), FormatRatio(vsC), FormatRatio(vsCUring),
				FormatFloat(r.SyscallsPerMsg, 2), FormatCount(r.MsgsPerS),
				FormatFloat(r.MBPerS, 1), FormatLatency(r.P50), FormatLatency(r.P99), FormatLatency(r.P999),
				FormatPercent(r.SrvCPUPct), FormatPercent(r.LoadCPUPct), FormatPercent(r.StealPct), FormatBytes(r.SrvRSS), r.Errors)
		}
	}
}

// IdleTable writes the idle-connection memory rows, servers named by
// labels; ÷C is the server's bytes/conn over the C floor's.
func IdleTable(b *strings.Builder, rows []Row, cells []Cell, labels Labels) {
	b.WriteString("| conns | server | RSS before | RSS after | bytes/conn | bytes/conn after GC | evsel ÷ this | ÷C |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range cells {
		ev, _ := find(rows, c, Evsel)
		floor, haveC := find(rows, c, C)
		for _, r := range rows {
			if r.Cell != c {
				continue
			}
			ratio := "–"
			if r.Server != Evsel {
				ratio = FormatRatio(Ratio(ev.BytesPerConn, r.BytesPerConn))
			}
			vsC := math.NaN()
			if haveC {
				vsC = Ratio(r.BytesPerConn, floor.BytesPerConn)
			}
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", c.Conns, labels.Of(r.Server),
				FormatBytes(r.RSSBefore), FormatBytes(r.RSSAfter), FormatFloat(r.BytesPerConn, 0),
				FormatFloat(r.BytesPerConnGC, 0), ratio, FormatRatio(vsC))
		}
	}
	fmt.Fprintf(b, "\nbytes/conn is (RSS after − RSS before) ÷ connections, as the server runs; "+
		"after GC is the same with a forced collection (runtime.GC, debug.FreeOSMemory) before each reading, "+
		"so garbage not yet collected does not count. evsel ÷ this and ÷C compare bytes/conn "+
		"(the C floor mallocs a 32-byte record per connection, so ÷C is how much a server adds to what any server must keep). "+
		"Target: evsel, and multiconn-server (apps/, run with its defaults: a line printed per connection, every bound on; "+
		"it has no command for a forced collection, so no after-GC figure), ≤ %d bytes of user-space RSS per idle connection.\n", TargetIdleBytes)
}

func failures(rows []Row, labels Labels) string {
	var b strings.Builder
	for _, r := range rows {
		if r.Errors == 0 && len(r.Failures) == 0 {
			continue
		}
		fmt.Fprintf(&b, "- %s / %s: %d errors", r.Cell.Name(), labels.Of(r.Server), r.Errors)
		if len(r.Failures) > 0 {
			fmt.Fprintf(&b, "; e.g. %s", strings.Join(r.Failures, "; "))
		}
		b.WriteString("\n")
	}
	return b.String()
}
