package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// The C floors: server "c" (epoll) and "c-uring" (io_uring), built from
// their sources with gcc instead of the go command.
const (
	cProgram      = "echo-c"
	cUringProgram = "echo-c-uring"
)

// cSources maps each C program to its source, relative to the bench module.
var cSources = map[string]string{
	cProgram:      "cserver/epoll_echo.c",
	cUringProgram: "cserver/uring_echo.c",
}

// buildC compiles the C program prog into dir with gcc -O2. The caller has
// left the C servers out already when there is no gcc.
func buildC(ctx context.Context, root, dir, prog string) error {
	src := cSources[prog]
	out := filepath.Join(dir, prog+exeSuffix)
	cmd := exec.CommandContext(ctx, "gcc", "-O2", "-o", out, filepath.Join(root, filepath.FromSlash(src)))
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc -O2 %s: %w\n%s", src, err, b)
	}
	return nil
}

// probeCUring builds the C io_uring server into dir and asks it whether
// the kernel has what it needs (io_uring at all, not disabled nor filtered,
// provided-buffer rings); the error says why not.
func probeCUring(ctx context.Context, root, dir string) error {
	if err := buildC(ctx, root, dir, cUringProgram); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(dir, cUringProgram+exeSuffix), "-probe").CombinedOutput()
	if msg := strings.TrimSpace(string(out)); err != nil && msg != "" {
		return fmt.Errorf("%s", msg)
	}
	return err
}
