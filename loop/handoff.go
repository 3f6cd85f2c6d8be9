package loop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evsel/evsel"
)

// Handing listening sockets to a successor process, and inheriting them.
//
// A restart without refusing connections goes: the running process (the
// parent) starts its successor with PassListeners, waits until the
// successor serves (ServeInherited), then calls Drain: it stops accepting,
// lets its open connections finish, and stops. The listening sockets are
// never closed in between, only the parent's descriptors of them, so
// connections that arrive meanwhile wait in the sockets' backlog for
// whichever process accepts next; none is refused.

// HandoffEnv names the environment variable that PassListeners sets for the
// successor: the comma-separated descriptor numbers of the listening
// sockets it inherits.
const HandoffEnv = "EVSEL_LISTEN_FDS"

// ErrNoInherited is returned by ServeInherited when the process inherited
// no listening sockets.
var ErrNoInherited = errors.New("loop: no inherited listening sockets (" + HandoffEnv + " or systemd's LISTEN_FDS)")

// ListenerFiles returns a duplicate of every listening socket the engine
// serves (one per loop for a ReusePort Listen), and of every datagram
// socket it serves an address on (not those DialPacket connected), for
// another process to serve (ServeInherited takes both kinds). The caller closes them; the engine keeps serving its own.
// From then on the engine leaves the files of its Unix listening sockets
// in place when it stops, since the other process may still serve them.
// Unsupported on Windows. Like Listen, it must be called from outside the
// loops, and returns ErrStopped once the engine has stopped.
func (e *Engine) ListenerFiles() ([]*os.File, error) {
	if e.OnLoopGoroutine() {
		return nil, ErrOnLoop
	}
	var files []*os.File
	for _, l := range e.loops {
		err := e.onLoop(l, func() error {
			for _, ln := range l.listeners {
				if ln.sock == nil {
					continue
				}
				f, err := ln.sock.File()
				if err != nil {
					return err
				}
				files = append(files, f)
				// Whoever takes the copy may serve the socket after this
				// engine has stopped: its path must stay.
				ln.unlink = ""
			}
			for _, pc := range servedPackets(l) {
				f, err := pc.sock.File()
				if err != nil {
					return err
				}
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
	}
	return files, nil
}

// PassListeners prepares cmd, not yet started, to inherit the engine's
// listening sockets: it appends them to cmd.ExtraFiles and names their
// descriptors in HandoffEnv (dropping any systemd LISTEN_* variables, which
// would not be the child's). It returns the files, which the caller closes
// once cmd has started. Unsupported on Windows.
func (e *Engine) PassListeners(cmd *exec.Cmd) ([]*os.File, error) {
	files, err := e.ListenerFiles()
	if err != nil {
		return nil, err
	}
	fds := make([]string, len(files))
	for i := range files {
		fds[i] = strconv.Itoa(3 + len(cmd.ExtraFiles) + i) // ExtraFiles[i] is fd 3+i
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, files...)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == HandoffEnv || name == "LISTEN_FDS" || name == "LISTEN_PID" || name == "LISTEN_FDNAMES"
	})
	cmd.Env = append(cmd.Env, HandoffEnv+"="+strings.Join(fds, ","))
	return files, nil
}

// StopAccepting closes the engine's listeners and the datagram sockets
// ListenerFiles hands over, and keeps serving the connections it holds;
// Addrs is empty afterwards. A socket that another
// process holds too (PassListeners, or the systemd manager) stays open
// there, with the connections waiting in its backlog. It must be called
// from outside the loops. When it returns, every connection the engine
// accepted is registered and counted in Stats.Open.
func (e *Engine) StopAccepting() error {
	if e.OnLoopGoroutine() {
		return ErrOnLoop
	}
	for _, l := range e.loops {
		err := e.onLoop(l, func() error {
			for _, ln := range l.listeners {
				ln.close()
			}
			l.listeners = nil
			// A served datagram socket stops receiving: its successor,
			// holding the same socket, takes the datagrams from now on.
			for _, pc := range servedPackets(l) {
				pc.Close()
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrStopped) {
			return err
		}
	}
	if err := e.awaitHandoffs(); err != nil {
		return err
	}
	e.mu.Lock()
	e.addrs = nil
	e.mu.Unlock()
	return nil
}

// awaitHandoffs returns once every connection the closed listeners
// accepted is registered on its loop and counted in e.open, which Drain
// waits on. A loop hands what it accepts to any loop (Options.Balance), as
// a task; every such task was queued before the listeners closed, so once
// each loop has run one more task, all of them have run. A loop that has
// stopped ran its tasks as it exited.
func (e *Engine) awaitHandoffs() error {
	for _, l := range e.loops {
		if err := e.onLoop(l, func() error { return nil }); err != nil && !errors.Is(err, ErrStopped) {
			return err
		}
	}
	return nil
}

// drainPoll is how often Drain looks whether the connections are gone.
const drainPoll = 10 * time.Millisecond

// Drain is the end of a handoff: it stops accepting (StopAccepting), waits
// until every connection has been closed by its peer or the application
// (idle timeouts keep applying), then stops the engine as Stop does. If ctx
// ends first, the remaining connections are closed at once and ctx's error
// is returned once the loops are gone.
func (e *Engine) Drain(ctx context.Context) error {
	if err := e.StopAccepting(); err != nil {
		return err
	}
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for e.open.Load() > 0 && ctx.Err() == nil {
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return e.Stop(ctx)
}

// InheritedListeners returns the listening sockets this process inherited:
// from a predecessor's PassListeners (HandoffEnv), or else from systemd's
// socket activation (LISTEN_FDS descriptors from 3 on, if LISTEN_PID is this
// process; named after LISTEN_FDNAMES). It unsets those variables, so that
// the process's own children do not take the sockets for theirs, and so
// returns them only once. None is nil, nil.
func InheritedListeners() ([]*os.File, error) {
	defer func() {
		for _, v := range []string{HandoffEnv, "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
			os.Unsetenv(v)
		}
	}()
	if v := os.Getenv(HandoffEnv); v != "" {
		// Every number is checked before any becomes an *os.File, whose
		// finalizer would close a descriptor that may be something else.
		fds := strings.Split(v, ",")
		for _, s := range fds {
			if fd, err := strconv.Atoi(s); err != nil || fd < 0 {
				return nil, errors.New("loop: malformed " + HandoffEnv + "=" + v)
			}
		}
		files := make([]*os.File, len(fds))
		for i, s := range fds {
			fd, _ := strconv.Atoi(s)
			files[i] = os.NewFile(uintptr(fd), "inherited-"+s)
		}
		return files, nil
	}
	pid, n := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pid == "" || n == "" {
		return nil, nil
	}
	if pid != strconv.Itoa(os.Getpid()) {
		return nil, nil // meant for another process (one that forked us)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 0 {
		return nil, errors.New("loop: malformed LISTEN_FDS=" + n)
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	var files []*os.File
	for i := range count {
		name := "LISTEN_FD_" + strconv.Itoa(3+i)
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		files = append(files, os.NewFile(uintptr(3+i), name))
	}
	return files, nil
}

// ServeInherited serves every socket InheritedListeners returns and gives
// their addresses; ErrNoInherited if there is none. Listening stream
// sockets are served as by ServeFile; datagram sockets with h as by
// ServePacketFile (with h nil a datagram socket is an error). On an error
// the sockets not yet served are closed, and the addresses of those served
// are returned with it.
func (e *Engine) ServeInherited(h PacketHandler) ([]net.Addr, error) {
	files, err := InheritedListeners()
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, ErrNoInherited
	}
	var addrs []net.Addr
	for i, f := range files {
		addr, err := e.ServeFile(f)
		if errors.Is(err, evsel.ErrNotStream) && h != nil {
			var pc *PacketConn
			if pc, err = e.ServePacketFile(f, h); err == nil {
				addr = pc.LocalAddr()
			}
		}
		if err != nil {
			for _, f := range files[i:] {
				f.Close()
			}
			return addrs, fmt.Errorf("loop: serving inherited %s: %w", f.Name(), err)
		}
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// servedPackets are the loop's datagram sockets that serve an address
// (ListenPacket, ServePacket...), not those DialPacket connected to a
// peer: the ones a successor process takes over.
func servedPackets(l *Loop) []*PacketConn {
	if l.pk == nil {
		return nil
	}
	var served []*PacketConn
	for _, pc := range l.pk.conns {
		if pc.remote == nil {
			served = append(served, pc)
		}
	}
	return served
}
