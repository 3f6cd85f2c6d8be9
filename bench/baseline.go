package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/evsel/evsel/bench/internal/report"
)

// baseSuffix ends the names of the programs built from the baseline
// revision: echo-evsel-base is that revision's cmd/echo-evsel.
const baseSuffix = "-base"

// baseline is the revision that -baseline names, resolved once so that the
// report records what was built even when the flag said HEAD~3.
type baseline struct {
	commit  string // full hash
	short   string // abbreviated hash, for labels
	subject string // first line of its message
}

// label is how the tables show evsel-base.
func (b *baseline) label() string { return report.Evsel + "@" + b.short }

// describe is the report's Baseline line.
func (b *baseline) describe() string { return fmt.Sprintf("%s %q", b.short, b.subject) }

// gitOut runs git in dir and returns its trimmed stdout; its stderr goes
// into the error.
func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// resolveBaseline finds rev in the repository that holds dir.
func resolveBaseline(ctx context.Context, dir, rev string) (*baseline, error) {
	commit, err := gitOut(ctx, dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("-baseline %s: not a commit of this repository", rev)
	}
	b := &baseline{commit: commit}
	if b.short, err = gitOut(ctx, dir, "rev-parse", "--short", commit); err != nil {
		return nil, err
	}
	if b.subject, err = gitOut(ctx, dir, "log", "-1", "--format=%s", commit); err != nil {
		return nil, err
	}
	return b, nil
}

// has reports whether the baseline revision has path (relative to the
// repository's top), so that a cell whose server it predates leaves
// evsel-base out rather than failing to build it. git's own failures are
// errors, not a no.
func (b *baseline) has(ctx context.Context, dir, path string) (bool, error) {
	out, err := gitOut(ctx, dir, "ls-tree", "--full-tree", "--name-only", b.commit, "--", path)
	return out != "", err
}

// splitBaseline separates the programs built from the baseline revision
// from those built from this checkout.
func splitBaseline(progs []string) (current, base []string) {
	for _, p := range progs {
		if strings.HasSuffix(p, baseSuffix) {
			base = append(base, p)
		} else {
			current = append(current, p)
		}
	}
	return current, base
}

// buildBaseline checks the baseline revision out into a temporary
// detached worktree, builds progs (names ending in baseSuffix) from its
// bench/cmd into bins, and removes the worktree again, whatever happened.
//
// The go command runs in the worktree's bench directory: in revisions
// where bench is a module of its own, its go.mod replaces the library with
// the worktree's root, and in older ones bench/cmd belongs to the root
// module; either way the servers are built against that revision's evsel.
func buildBaseline(ctx context.Context, benchDir, bins string, b *baseline, progs []string) (err error) {
	if len(progs) == 0 {
		return nil
	}
	top, err := gitOut(ctx, benchDir, "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "evsel-baseline-")
	if err != nil {
		return err
	}
	src := filepath.Join(tmp, "src")
	if _, err := gitOut(ctx, top, "worktree", "add", "--detach", src, b.commit); err != nil {
		// An add cut short by ctx may have registered the worktree.
		gitOut(context.Background(), top, "worktree", "remove", "--force", src)
		os.RemoveAll(tmp)
		return err
	}
	defer func() {
		// Not under ctx: an interrupted run must still unregister the
		// worktree from the repository.
		_, rmErr := gitOut(context.Background(), top, "worktree", "remove", "--force", src)
		os.RemoveAll(tmp)
		if rmErr != nil {
			gitOut(context.Background(), top, "worktree", "prune")
			if err == nil {
				err = rmErr
			}
		}
	}()

	// One go build for all programs into a directory of their own, then
	// renamed: go build -o dir/ names each after its package.
	out := filepath.Join(bins, "base")
	var pkgs []string
	for _, p := range progs {
		pkgs = append(pkgs, "./cmd/"+strings.TrimSuffix(p, baseSuffix))
	}
	args := append([]string{"build", "-o", out + string(os.PathSeparator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(src, "bench")
	// A go.work in the environment would build this checkout's library
	// into the baseline's servers.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the baseline %s: go %s: %w\n%s", b.short, strings.Join(args, " "), err, o)
	}
	for _, p := range progs {
		from := filepath.Join(out, strings.TrimSuffix(p, baseSuffix)+exeSuffix)
		if err := os.Rename(from, filepath.Join(bins, p+exeSuffix)); err != nil {
			return err
		}
	}
	return nil
}
