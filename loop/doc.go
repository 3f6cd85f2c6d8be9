// Package loop is evsel's event-loop engine: what to use instead of a
// goroutine per connection when a program holds thousands of connections.
//
// An Engine runs N loops (GOMAXPROCS by default). Each loop is a goroutine,
// locked to its OS thread while it handles events (on unix not while it waits
// in the kernel, which measured cheaper; see Loop.poll), that owns one
// selector and
// every connection assigned to it; connection state lives in user space, so an idle
// connection costs a couple of hundred bytes instead of a goroutine stack.
// Application code is a Handler whose callbacks run on the owning loop:
//
//	OnOpen(c)       a connection was accepted or a Dial completed
//	OnData(c)       new bytes are in c.Inbound(); Consume what you used
//	OnClose(c, err) the connection is gone, with the reason
//
// Everything a callback does to its own Conn (Write, Consume, Close) is
// plain single-threaded code. Other goroutines talk to a connection only
// through the Async methods and Do, which queue work to the loop and wake it.
//
// Writes made during a callback are gathered and sent when the callback
// returns, with as few write or writev calls as the kernel allows (a write
// of 64 KiB or more on a connection with nothing pending goes out at once,
// without a copy); what the kernel does not take is kept
// and sent when the socket is writable, and only then is WRITE interest
// watched. A connection whose pending output passes the high-water mark is
// not read until it drains below the low-water mark, so a peer that never
// reads cannot make the engine grow without bound.
package loop
