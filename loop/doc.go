// Package loop is evsel's event-loop engine: what to use instead of a
// goroutine per connection when a program holds thousands of connections.
//
// An Engine runs N loops (GOMAXPROCS by default). Each loop is a goroutine,
// locked to its OS thread while it handles events (on unix not while it
// waits in the kernel, which measured cheaper; see pollDriver.poll), that owns one
// driver (see "Drivers") and every connection assigned to it; connection state lives
// in user space, so an idle connection costs about 130 bytes instead of a
// goroutine stack. Application code is a Handler (or Funcs) whose callbacks
// run on the owning loop:
//
//	OnOpen(c)       a connection was accepted or a Dial completed
//	OnData(c)       new bytes are in c.Inbound(); Consume what you used
//	OnClose(c, err) the connection is gone, with the reason
//
// Everything a callback does to its own Conn is plain single-threaded code.
// Other goroutines talk to a connection only through AsyncWrite,
// AsyncClose, Do and Wake, which queue work to the loop and wake it, and
// WriteWait and DoWait, which also wait for the loop's answer (DoWait: a
// function run on the loop, returning once it has).
//
// # Input
//
// Inbound is what has arrived and not been consumed, read straight from the
// kernel into a buffer shared by the loop (zero-copy: valid until the
// callback returns). A handler consumes whole messages and leaves the rest,
// which comes back with the bytes that follow. Peek and Discard say the
// same with bufio.Reader's names (ErrShortInput when a message is not all
// there yet), and Next, gnet's name, is the two in one; Read and WriteTo
// make a Conn an io.Reader and io.WriterTo over what is buffered
// (c.WriteTo(c) echoes).
//
// # Output and backpressure
//
// Writes made during a callback are gathered and sent when the callback
// returns, with as few write or writev calls as the kernel allows (a write
// of 16 KiB or more on a connection with nothing pending goes out at once,
// without a copy); what the kernel does not take is kept and sent when the
// socket is writable, and only then is WRITE interest watched. A
// connection whose pending output passes Options.HighWater is not read
// until it drains below LowWater, so a peer that never reads cannot make
// the engine grow without bound; MaxOutput and MaxInput close connections
// that pass hard limits anyway. Conn.SendFile queues a file's bytes behind
// the output without holding them in memory (sendfile.go).
//
// A handler can stop reading one connection because of another, as a proxy
// must when the side it writes to falls behind: Conn.PauseReading stops
// OnData and the reads (the peer's bytes wait in the kernel, whose flow
// control slows the peer), ResumeReading restarts them, and
// Conn.NotifyDrained asks for one DrainHandler.OnDrained when a
// connection's output is back at LowWater (flow.go). Input or the
// stream's end that come past a pause (a receive already in flight) wait
// for ResumeReading, so no byte is dropped and none overtaken. A goroutine
// that produces for a connection uses Conn.WriteWait, which waits while
// the output is above HighWater, as net.Conn's Write blocks, where
// AsyncWrite never waits (writewait.go).
//
// # Closing
//
// Close and CloseWithError send what is pending, then close; Abort closes
// at once and drops it; AsyncClose is CloseWithError from any goroutine.
// OnClose receives the reason: nil for a close without one, io.EOF when the
// peer shut down, ErrIdleTimeout (Options.IdleTimeout, Conn.SetIdleTimeout),
// ErrFirstByteTimeout, ErrLingerTimeout, ErrReadDeadline, ErrWriteDeadline,
// ErrShed, ErrMemoryBudget,
// ErrStopped, on TLS ErrTLSNoCloseNotify or ErrTLSRecordTimeout, a
// *PanicError when the handler panicked (only that connection closes), or
// the I/O error. The time limits' errors match os.ErrDeadlineExceeded and
// report Timeout, as a net.Conn's passed deadline does; NewTimeoutError
// makes one for a limit of the application's own.
//
// Half-closes work both ways (halfclose.go). The peer's end of its stream
// closes the connection once its output is sent, unless the Handler is an
// EOFHandler: then OnEOF is called and the connection stays open for
// writing (the request whose end is the stream's end, the answer from
// another goroutine) until the handler closes it. CloseWrite ends the
// connection's own side after its pending output, as net.TCPConn's does,
// and goes on reading.
//
// # Deadlines and limits
//
// Every state a connection can sit in can be bounded, so that peers that
// stay silent, never read, or are simply too many cannot hold descriptors
// and memory for as long as they like: Options.FirstByteTimeout from the
// accept to the first byte, IdleTimeout between reads and writes, and
// LingerTimeout from a close request (graceful, for a fault, the peer's EOF
// with output pending unless OnEOF keeps the connection open, or Stop's)
// to the close, after which the connection is closed hard whatever the
// peer is still taking. One coarse sweep per
// loop enforces them (a deadline d fires between d and 1.5·d), so an idle
// connection carries no timer. Options.KeepAlive has the kernel probe
// quiet TCP peers, to find one that vanished without closing while
// keeping quiet ones that are still there. Options.MaxConns bounds the connections
// held: at the bound, or when accept finds the process out of descriptors,
// the longest-idle connection (one with no traffic a quarter of a second
// after its accept, if any) is shed to admit the new one, from any loop,
// and a reserve descriptor lets a loop refuse promptly when nothing can be
// shed. Options.MaxConnsPerIP (off by default) refuses an address's
// connections past a bound, so that one peer cannot hold all of that.
// Stats counts each kind of close.
//
// A handler's own deadlines are absolute, as net.Conn's: SetReadDeadline,
// SetWriteDeadline and SetDeadline take a time, the zero time clears, and
// nothing but the handler moves them. Nothing on a loop waits in a Read or
// Write for a deadline to fail, so one that passes closes the connection,
// as nbio's do: the read deadline gracefully with ErrReadDeadline (what is
// queued still goes out: the peer's silence is no reason to withhold
// it), the write deadline at once with ErrWriteDeadline if output is still
// pending then (a peer not reading holds it), and not at all if none is,
// the deadline being spent. Moved on in every OnData, the read deadline is
// the keep-alive of nbio's servers; set once per request and cleared when
// it is whole, it bounds the request. Before a Dial's OnOpen either one
// bounds the connect and TLS handshake. They are exact (a timer each,
// made on first use and reset in place, so moving them allocates nothing),
// where the engine's own deadlines above are coarse and carry no
// per-connection timer.
//
// A graceful close whose peer is still sending (bytes unread in the
// kernel once the output has gone) lingers, as nginx's
// lingering_close does: the loop shuts its sending side down, reads and
// drops what arrives, and closes at the peer's end of stream or after two
// seconds. Closed at once, the socket would answer the peer's bytes with a
// reset, which throws away the output the peer has not yet read.
//
// # Memory budget
//
// The limits above are per connection, so the memory they allow grows with
// the number of peers. Options.MaxMemory bounds what all connections hold
// together: their own input buffers (what a handler left unconsumed) and
// their pending output are counted, engine-wide, when they change
// (Stats.MemoryHeld). While the total is above the budget, a connection
// holding more than its share (the budget over the open connections, at
// least 64 KiB) is not read, nor is one whose next read could pass the
// budget while over its share; it is read again when the total falls under
// 7/8 of the budget or its own holding under half its share. If the total
// stays above the budget with them paused (output whose peer never reads,
// input a handler keeps), the paused connections holding the most are
// closed with ErrMemoryBudget, largest first, until it is under. Paused
// connections that stay for a second between 7/8 of the budget and the
// budget without draining, where they would be neither read nor closed
// (uploads larger than their share, each waiting for room the others
// hold), are closed likewise,
// largest first, until the total is under 7/8 and the rest are read again.
// Connections within their share keep being served throughout. The total
// may pass the budget by what connections within their share take in the
// moment before the largest are closed (one loop iteration of reads), and
// by output written from timers or other goroutines, which is never
// refused. Stats.MemoryPaused and MemoryClosed count what the budget did. Deadlines for a protocol's own states (a
// message begun and not finished) belong to the protocol: see
// message/msgloop.
//
// # Clients
//
// Engine.Dial returns a Conn at once and connects in the background:
// OnOpen when it is up, OnClose when it fails. Host names are looked up off
// the loops and every address is tried in turn; the context bounds the
// whole connect. WithData attaches the per-connection state that SetData
// would; WithLoop puts the connection on a chosen loop (a proxy's
// upstream on its client's loop, so one goroutine serves the pair).
//
// Socket options the Options have no field for (SO_BINDTODEVICE, SO_MARK,
// IP_TOS) are set as with Go's net: Options.ListenControl is called for
// every listening socket before it is bound, WithControl for each socket a
// Dial opens, with net's Control arguments, so a function written for
// net.ListenConfig or net.Dialer works unchanged; Conn.SyscallConn reaches
// an open connection's descriptor.
//
// # Datagrams
//
// Engine.ListenPacket serves a UDP or Unix datagram address with a
// PacketHandler, whose OnPacket gets each datagram and its sender (a
// PacketAddr) on the owning loop, allocating nothing per datagram.
// PacketConn.WriteTo queues replies, which leave in batches at the end of
// the loop iteration (sendmmsg on Linux). On Linux every loop has its own
// SO_REUSEPORT socket for a UDP address. The unsent datagrams of a loop are
// bounded (Options.MaxPacketQueue, MaxPacketQueueBytes): past the bound
// WriteTo drops, as the network may, and Stats.DatagramsDropped counts it.
// A handler panic drops its datagram (logged at most once a second per
// loop); the socket goes on. Engine.DialPacket
// opens a connected datagram socket for a client.
//
// # TLS
//
// Engine.ListenTLS serves TLS and the WithTLS dial option speaks it, with
// the standard library's crypto/tls unchanged, so every Go release's TLS
// fixes apply. The handshake, sequential code, runs on a goroutine over an
// in-memory transport the loop feeds, at most Options.MaxTLSHandshakes at
// once for accepted connections and as many for dialed ones (so that a
// client never holds the slot its server, perhaps this engine, needs); an
// accepted connection takes one only once its ClientHello is in,
// and one waiting for a free slot holds none, nor waits long for a peer that
// stalls its handshake (ErrTLSHandshakeStalled). Options.TLSHandshakeTimeout
// bounds it all. OnOpen follows a successful handshake; a failed one is
// logged once and closes that connection only, with a *TLSHandshakeError
// that errors.As sees through to crypto/tls's own errors (an accepted
// connection's handler hears nothing of it; a Dial ends in OnClose). From
// then on the loop reads and writes records itself, with no goroutine:
// Inbound holds plaintext, Write encrypts into the output queue, Conn.TLS
// reports the negotiated state, post-handshake messages (session tickets,
// KeyUpdate) are answered, and renegotiation is refused, as crypto/tls does
// by default (WithTLS refuses it whatever its config allows). A graceful close sends close_notify after the pending output;
// the peer's close_notify is io.EOF, a TCP close without one
// ErrTLSNoCloseNotify. A record left incomplete for TLSHandshakeTimeout
// closes the connection with ErrTLSRecordTimeout, as no deadline above the
// engine sees a record that yields no plaintext. Backpressure, deadlines,
// the memory budget (which counts ciphertext queued, plaintext kept, the
// record being assembled and the input a handshake has yet to take),
// AsyncWrite and Stop work as for plaintext, whose path pays one flag test.
//
// # Timers and hooks
//
// Loop.AfterFunc and Loop.Every run functions on a loop, where they may use
// its connections freely. Options.OnTick runs on every loop periodically,
// OnBoot and OnShutdown once per engine.
//
// # Balancing and faults
//
// One loop accepts and deals connections out round-robin, to the loop
// with fewest, or by the client's address, so one client's connections
// share a loop (Options.Balance), or, with Options.ReusePort, every loop has
// its own SO_REUSEPORT listener and the kernel spreads them. Running out of
// descriptors (EMFILE) pauses the listener for a moment instead of
// spinning, and a handler that implements AcceptErrorHandler hears of every
// failed accept; a handler panic closes only its connection. Fault reports go
// to Options.Logger, called on the loops; the default queues them for
// slog.Default's handler on a goroutine of its own (QueuedHandler), so a
// log writer that stalls drops records instead of stopping a loop.
// Engine.Stop closes gracefully, flushing pending output, within a deadline.
//
// # Sockets made elsewhere
//
// ServeListener, ServeFile and ServeFD serve a listening stream socket the
// engine did not create (a net.Listener, an inherited descriptor), and
// Adopt takes over an established net.Conn; ServeInherited serves the
// sockets of systemd's socket activation or of a predecessor process. For
// a restart without refused connections, PassListeners gives a successor
// the engine's listening sockets and Drain then stops accepting, waits for
// the open connections to end and stops (see handoff.go).
//
// # Drivers
//
// Options.Driver chooses how a loop talks to the kernel. A readiness
// driver ("epoll", "kqueue", "poll", "iocp": the evsel.Poller of that name)
// is told which sockets are ready and reads, writes and accepts itself. The
// completion driver, "io_uring" on Linux, hands that work to the kernel:
// each connection has a receive in flight while the loop wants input,
// which takes a buffer of the loop's provided-buffer ring only when bytes
// arrive (an idle connection holds no input memory; the ring holds only as
// many buffers as an iteration fills), and one send or
// sendmsg of its whole output queue, whose chunks stay untouched until the
// completion; listeners and datagram sockets are polled through the ring
// (then accepted from and read as on epoll), Dial connects through it, and one
// io_uring_enter per iteration carries it all, the wait for timers and
// Do/Async wake-ups included. A descriptor is closed only once nothing is
// in flight on it. With it the loop goroutine stays locked to its thread
// throughout (the ring is tied to the thread that made it). Everything
// above the driver (Handler, Conn, backpressure, budgets, deadlines) is
// the same on both. The default is the platform's best poller; io_uring
// asked for where it cannot run (an old kernel, kernel.io_uring_disabled,
// seccomp, a missing operation) falls back to it with one log line, and
// Engine.Driver reports what runs.
//
// # Which calls are safe where
//
// A callback blocks its whole loop while it runs, so it must not wait for
// anything slow (a blocking write to a pipe nobody drains, a lock held
// elsewhere, a channel) and above all not for a loop. One that does is
// reported: a loop kept from its poll for Options.StallWarning (1 s by
// default) is logged with its goroutine's stack, where the callback is
// stuck, and counted in Stats.Stalls (stall.go). The calls:
//
//   - On the owning loop only (callbacks, timers, Do functions): the Conn
//     methods Write, Writev, SendFile, Close, CloseWithError, CloseWrite,
//     Abort, Inbound, Consume,
//     Peek, Next, Discard, Read, WriteTo, Buffered, Data, SetData,
//     SetIdleTimeout, SetDeadline, SetReadDeadline, SetWriteDeadline
//     (from elsewhere through Do), PauseReading, ResumeReading, ReadingPaused,
//     ReadPaused, NotifyDrained, the address and socket-option methods
//     (SyscallConn's included), TLS;
//     PacketConn.WriteTo, Write, Close, Data, SetData; Loop.AfterFunc,
//     Loop.Every and the Timer methods.
//   - From anywhere, callbacks included (they queue and return): Dial,
//     Adopt, DialPacket (on a loop with a numeric address only: it
//     resolves a name on the caller's goroutine), StopAsync, Conn.AsyncWrite, AsyncWritev,
//     AsyncClose, Do, Wake, PacketConn.AsyncWriteTo, AsyncClose, Loop.Do,
//     and the read-only Stats, Addrs, Options, Loops, Done.
//   - Outside the loops only (they wait for the loops): Engine.Stop,
//     Engine.Listen, ListenTLS, ListenPacket, the Serve methods,
//     ListenerFiles, PassListeners, CloseListener, StopAccepting, Drain,
//     Conn.WriteWait, Conn.DoWait and Loop.DoWait. On a loop
//     goroutine, OnShutdown's included, they return ErrOnLoop at once
//     instead of waiting for themselves; a callback that
//     wants the engine stopped calls StopAsync.
//
// The loops and other goroutines share the Ps. After a busy iteration a
// loop keeps its P while it waits in the kernel, for a few milliseconds at
// most (rawwait.go), when every loop of the process has a P of its own,
// and yields it first; a callback that wakes a goroutine waiting for it
// (sends it a result) calls Loop.Woke, so that the goroutine surely runs
// before the loop waits, as the engine does for WriteWait's and DoWait's
// callers and TLS handshakes (woken.go). Without it, with every P held by
// a loop, the woken goroutine may wait out the loop's wait: on io_uring,
// which yields at most every 4 ms, it usually does. A goroutine that
// wants an answer from the loop calls DoWait rather than Do with a
// channel of its own.
package loop
