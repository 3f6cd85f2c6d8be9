package selector_test

import (
	"fmt"
	"time"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/selector"
)

// The life of one registration, as an event loop runs it: Register with
// an interest set and the connection's data, Select what is ready, Modify
// when what the connection waits for changes (EventWrite only while output
// waits, since a socket with room to send is always writable), and
// Unregister before the socket closes. Select reports only the events the
// key asks for, and hands back the key with its data.
func ExampleSelector_Modify() {
	sel, err := selector.New()
	if err != nil {
		panic(err)
	}
	defer sel.Close()
	a, b, err := evsel.Socketpair()
	if err != nil {
		panic(err)
	}
	defer a.Close()
	defer b.Close()

	type conn struct {
		name string
		out  []byte
	}
	if _, err := sel.Register(a, selector.EventRead, &conn{name: "a"}); err != nil {
		panic(err)
	}
	ready, err := sel.Select(0) // poll
	if err != nil {
		panic(err)
	}
	fmt.Println("idle:", len(ready), "ready")
	next := func() selector.Ready { // a is the only key: its next report
		ready, err := sel.Select(5 * time.Second)
		if err != nil || len(ready) == 0 {
			panic(fmt.Sprint("nothing ready: ", err))
		}
		return ready[0]
	}

	key, _ := sel.Key(a)
	key.Data.(*conn).out = []byte("hello")
	if _, err := sel.Modify(a, selector.EventRead|selector.EventWrite, key.Data); err != nil {
		panic(err)
	}
	r := next()
	c := r.Key.Data.(*conn)
	fmt.Printf("%s: %v, sending %q\n", c.name, r.Events, c.out)
	n, _ := r.Key.File.(*evsel.Socket).Write(c.out)
	if c.out = c.out[n:]; len(c.out) == 0 {
		sel.Modify(a, selector.EventRead, c) // nothing more to send
	}

	b.SetBlocking(true) // the peer is a plain blocking socket
	buf := make([]byte, 16)
	n, _ = b.Read(buf)
	fmt.Printf("peer read %q\n", buf[:n])
	b.Write([]byte("world"))

	r = next()
	n, _ = r.Key.File.(*evsel.Socket).Read(buf)
	fmt.Printf("%s: %v, read %q\n", r.Key.Data.(*conn).name, r.Events, buf[:n])

	old, err := sel.Unregister(a)
	if err != nil {
		panic(err)
	}
	fmt.Printf("unregistered %s, %d keys left\n", old.Data.(*conn).name, sel.Map().Len())
	// Output:
	// idle: 0 ready
	// a: W, sending "hello"
	// peer read "hello"
	// a: R, read "world"
	// unregistered a, 0 keys left
}

// Wake makes a Select that waits return early, from any goroutine: how
// other goroutines hand a selector loop work. The Select it ends may report
// nothing. (A loop would wait with Forever, Python's None; the example's
// minute bounds it.)
func ExampleSelector_Wake() {
	sel, err := selector.New()
	if err != nil {
		panic(err)
	}
	defer sel.Close()
	woken := make(chan error, 1)
	go func() { woken <- sel.Wake() }()

	start := time.Now()
	ready, err := sel.Select(time.Minute)
	fmt.Println("ready:", len(ready), "error:", err)
	fmt.Println("before the timeout:", time.Since(start) < time.Minute)
	fmt.Println("wake:", <-woken)
	// Output:
	// ready: 0 error: <nil>
	// before the timeout: true
	// wake: <nil>
}
