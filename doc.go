// Package evsel is the operating-system layer of the evsel networking engine:
// non-blocking sockets over raw descriptors and one readiness Poller per
// platform (epoll on Linux, kqueue on the BSDs and macOS, IOCP with AFD
// polling on Windows, and a portable poll(2) backend on every unix).
//
// It plays the role Rust's mio plays for its ecosystem: it hides the system
// calls, not the model. Callers register descriptors with an interest set,
// wait for readiness, and then perform non-blocking reads and writes that may
// return ErrWouldBlock. Everything above it — the Python-style selector, the
// event-loop engine, the message protocol — is written against this package.
//
// Sockets created here are deliberately not attached to Go's runtime network
// poller: their descriptors are owned by whichever Poller the caller registers
// them with, so one OS thread can serve thousands of connections without a
// goroutine each.
package evsel
