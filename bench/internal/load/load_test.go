package load

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/evsel/evsel/apps/refapp"
	"github.com/evsel/evsel/loop"
	"github.com/evsel/evsel/message"
	"github.com/evsel/evsel/message/msgloop"
)

// server runs handle for every connection to a loopback listener until the
// test ends.
func server(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func echo(c net.Conn) { io.Copy(c, c) }

func quick(addr string, wl Workload, conns, depth int) Config {
	return Config{
		Addr: addr, Conns: conns, Depth: depth, Workload: wl,
		Warmup: 20 * time.Millisecond, Measure: 100 * time.Millisecond, Drain: time.Second,
	}
}

func checkClean(t *testing.T, res Result, conns int) {
	t.Helper()
	if res.Errors != 0 {
		t.Fatalf("%d errors: %q", res.Errors, res.ErrorSamples)
	}
	if res.Connected != conns {
		t.Errorf("connected %d of %d", res.Connected, conns)
	}
	if res.Messages == 0 || res.Bytes == 0 || res.MsgsPerS <= 0 {
		t.Errorf("nothing measured: %+v", res)
	}
	if !(res.P50us > 0 && res.P50us <= res.P99us && res.P99us <= res.P999us && res.P999us <= res.MaxUs) {
		t.Errorf("latency percentiles out of order: %+v", res)
	}
	if res.Seconds < 0.09 || res.Seconds > 1 {
		t.Errorf("window %vs, want about 0.1s", res.Seconds)
	}
}

func TestEchoSerialAndPipelined(t *testing.T) {
	addr := server(t, echo)
	for _, tc := range []struct{ size, conns, depth int }{
		{64, 4, 1}, {16 << 10, 2, 1}, {5, 2, 1}, {64, 4, 16}, {1024, 3, 4},
	} {
		var events []string
		cfg := quick(addr, NewEcho(tc.size), tc.conns, tc.depth)
		cfg.Event = func(e string) { events = append(events, e) }
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkClean(t, res, tc.conns)
		if res.Bytes != res.Messages*int64(tc.size) {
			t.Errorf("size %d: %d bytes for %d messages", tc.size, res.Bytes, res.Messages)
		}
		if len(events) != 2 || events[0] != "measure-start" || events[1] != "measure-end" {
			t.Errorf("events %q", events)
		}
	}
}

// TestAfterWindow: the replies verified while the harness holds the load
// after the window (to count system calls then) are counted apart, and
// not in the window's figures.
func TestAfterWindow(t *testing.T) {
	addr := server(t, echo)
	cfg := quick(addr, NewEcho(64), 2, 1)
	cfg.Event = func(e string) {
		if e == "measure-end" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, res, 2)
	if res.AfterMessages <= 0 || res.AfterSeconds < 0.2 {
		t.Errorf("after the window: %d messages in %.3fs", res.AfterMessages, res.AfterSeconds)
	}
	if res.Messages <= 0 || res.Seconds > cfg.Measure.Seconds()+0.1 {
		t.Errorf("window: %d messages in %.3fs", res.Messages, res.Seconds)
	}
}

// TestVerifyCatchesCorruption: a server that changes one byte in every
// hundred 64-byte messages must produce errors, not verified bytes.
func TestVerifyCatchesCorruption(t *testing.T) {
	addr := server(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		total := 0
		for {
			n, err := c.Read(buf)
			if n > 0 {
				for i := range n {
					if (total+i)%6400 == 6399 {
						buf[i] ^= 1
					}
				}
				total += n
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	for _, depth := range []int{1, 8} {
		res, err := Run(context.Background(), quick(addr, NewEcho(64), 2, depth))
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors == 0 {
			t.Errorf("depth %d: corrupted replies were not caught: %+v", depth, res)
		}
	}
}

// TestLostReplyIsAnError: a server that stops answering leaves replies
// owed at the end of the window; they count as errors after the drain.
func TestLostReplyIsAnError(t *testing.T) {
	addr := server(t, func(c net.Conn) {
		buf := make([]byte, 64)
		io.ReadFull(c, buf)
		c.Write(buf)
		io.Copy(io.Discard, c) // then swallow everything
	})
	for _, depth := range []int{1, 4} {
		cfg := quick(addr, NewEcho(64), 1, depth)
		cfg.Drain = 100 * time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 1 {
			t.Errorf("depth %d: %d errors (%q), want 1", depth, res.Errors, res.ErrorSamples)
		}
	}
}

func TestDialFailureIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res, err := Run(context.Background(), quick(addr, NewEcho(64), 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 3 || res.Connected != 0 || res.Messages != 0 {
		t.Errorf("%+v", res)
	}
}

// TestAppAgainstMessageServer runs the app workload against evsel's
// message server (msgloop): the expected frames are what it sends.
func TestAppAgainstMessageServer(t *testing.T) {
	s, err := msgloop.NewServer(refapp.ServerResponse, msgloop.ServerOptions{
		Loop: loop.Options{Loops: 1}, ServerConfig: message.ServerConfig{KeepAlive: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	addr, err := s.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp()
	if err != nil {
		t.Fatal(err)
	}
	for _, depth := range []int{1, 4} {
		res, err := Run(context.Background(), quick(addr.String(), app, 3, depth))
		if err != nil {
			t.Fatal(err)
		}
		checkClean(t, res, 3)
	}
}

func TestEchoVerify(t *testing.T) {
	for _, size := range []int{1, 12, 64} {
		w := NewEcho(size)
		a, b := w.Conn(1), w.Conn(2)
		req := a.AppendRequest(nil, 7)
		if len(req) != size || a.ResponseLen(7) != size {
			t.Fatalf("size %d: request of %d bytes", size, len(req))
		}
		if !a.Verify(7, req) {
			t.Errorf("size %d: own echo rejected", size)
		}
		if size >= 12 && (a.Verify(8, req) || b.Verify(7, req)) {
			t.Errorf("size %d: an echo of another sequence number or connection passed", size)
		}
		if a.Verify(7, req[:size-1]) {
			t.Errorf("size %d: short echo passed", size)
		}
	}
}

func TestIdle(t *testing.T) {
	var mu sync.Mutex
	accepted := 0
	addr := server(t, func(c net.Conn) {
		mu.Lock()
		accepted++
		mu.Unlock()
		io.Copy(io.Discard, c)
	})
	ctx, cancel := context.WithCancel(context.Background())
	n, errs, _ := Idle(ctx, addr, 20, nil, func(n int) {
		if n != 20 {
			t.Errorf("ready with %d", n)
		}
		cancel()
	})
	if n != 20 || errs != 0 {
		t.Errorf("connected %d, errors %d", n, errs)
	}
}

// udpEcho runs a net.UDPConn echo server until the test ends; drop, if
// set, says which datagrams it ignores.
func udpEcho(t *testing.T, drop func(n int) bool) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for n := 0; ; n++ {
			k, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if drop == nil || !drop(n) {
				c.WriteToUDP(buf[:k], from)
			}
		}
	})
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
	return c.LocalAddr().String()
}

func TestUDPEcho(t *testing.T) {
	addr := udpEcho(t, nil)
	for _, depth := range []int{1, 4} {
		res, err := RunUDP(context.Background(), quick(addr, nil, 4, depth), 100)
		if err != nil {
			t.Fatal(err)
		}
		if res.Messages == 0 || res.Errors != 0 || res.Connected != 4 || res.Size != 100 {
			t.Errorf("depth %d: %+v", depth, res)
		}
	}
}

// TestUDPLossIsNotAnError: a dropped datagram is counted as lost and the
// socket goes on.
func TestUDPLossIsNotAnError(t *testing.T) {
	addr := udpEcho(t, func(n int) bool { return n%50 == 7 })
	cfg := quick(addr, nil, 2, 2)
	cfg.Measure = 600 * time.Millisecond
	res, err := RunUDP(context.Background(), cfg, 64)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Lost == 0 || res.Messages == 0 {
		t.Errorf("want losses and no errors: %+v", res)
	}
}
