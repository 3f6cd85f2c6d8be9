package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// cProgram is the C epoll echo server's binary: server "c" in echo and idle
// cells, built from cSource with gcc instead of the go command.
const cProgram = "echo-c"

// cSource is the C server's source, relative to the bench module.
const cSource = "cserver/epoll_echo.c"

// buildC compiles the C floor into dir with gcc -O2. The caller has left
// server c out already when there is no gcc.
func buildC(ctx context.Context, root, dir string) error {
	out := filepath.Join(dir, cProgram+exeSuffix)
	cmd := exec.CommandContext(ctx, "gcc", "-O2", "-o", out, filepath.Join(root, filepath.FromSlash(cSource)))
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc -O2 %s: %w\n%s", cSource, err, b)
	}
	return nil
}
