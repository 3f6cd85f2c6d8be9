// Package message is the application protocol of Real Python's socket
// tutorial (app-client.py / app-server.py with libclient.py / libserver.py),
// done as a pure codec with no networking: the event loop owns the sockets and
// buffers, and hands this package bytes.
//
// A frame is a 2-byte big-endian length N, then N bytes of a JSON object (the
// header, with at least byteorder, content-type, content-encoding and
// content-length), then content-length bytes of content.
//
// Three design points follow from the contract in shared/protocol.md:
//
//   - Frames we send are byte-identical to the Python reference's, so the JSON
//     writer here spells values like json.dumps(obj, ensure_ascii=False)
//     instead of using encoding/json (which escapes HTML characters and
//     separates with bare commas).
//   - The Decoder is a state machine over the caller's unconsumed bytes: it
//     never copies content and, for the header values the reference uses, does
//     not allocate, so a server can decode in its read handler without
//     garbage per message.
//   - Every malformed input is a *ProtocolError with a Code (errors.Is works
//     against the Err* sentinels) rather than a panic or an unbounded wait,
//     because a server must drop one bad connection and keep the rest.
//
// The reference application (the search table, the binary echo, the client's
// printed lines) lives here too, as pure functions, so the blocking programs
// and the event-loop server produce the same bytes.
package message
