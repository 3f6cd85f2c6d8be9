// Package message is the application protocol of Real Python's socket
// tutorial (app-client.py / app-server.py with libclient.py / libserver.py)
// as a protocol library with no I/O, in the shape of Python's h11 or Rust's
// quinn-proto and rustls: bytes in, messages and bytes to send out. It
// imports no networking; package msgloop runs it on evsel's event loop, and
// anything else (a goroutine per connection, a test) can drive it the same
// way.
//
// A frame is a 2-byte big-endian length N, then N bytes of a JSON object (the
// header, with at least byteorder, content-type, content-encoding and
// content-length), then content-length bytes of content.
//
// The package has three layers:
//
//   - The frame codec: Message.AppendFrame writes a frame; a Decoder reads
//     frames from the caller's unconsumed bytes.
//   - The values a frame carries: Header, and Value, the JSON model (objects
//     keep their key order, integers all their digits, as in Python).
//   - The per-connection state machines, ServerConn and ClientConn: they
//     decide what a side may receive and send next (one request or many,
//     responses in order), and enforce the limits — content size, requests
//     in flight, and how long a request may take to arrive, with the time
//     given as an input rather than measured by a timer.
//
// Four design points follow from the contract in shared/protocol.md:
//
//   - Frames we send are byte-identical to the Python reference's, so the JSON
//     writer here spells values like json.dumps(obj, ensure_ascii=False)
//     instead of using encoding/json (which escapes HTML characters and
//     separates with bare commas).
//   - Decoding works on the caller's unconsumed bytes: it never copies
//     content and, for the header values the reference uses, does not
//     allocate, so a server can decode in its read handler without garbage
//     per message.
//   - What a message costs is bounded by its size: text/json content has a
//     lower default bound (1 MiB) than binary (16 MiB), checked before the
//     content arrives; parsing it into a Value allocates at most a small
//     multiple of its length (ParseLimits); and Message.JSONPick reads a
//     few keys without building the rest.
//   - Every malformed input is a *ProtocolError with a Code (errors.Is works
//     against the Err* sentinels) rather than a panic or an unbounded wait,
//     because a server must drop one bad connection and keep the rest.
//
// The reference application itself (the search table, the lines the
// programs print) is not here: it lives with the programs, in apps/refapp.
package message
