#!/usr/bin/env python3
"""Reference multi-connection echo server over a selector (protocol.md section 2).

Usage: multiconn-server.py <host> <port>

Port 0 asks the kernel for a free port; the "Listening on" line shows the
port actually bound (the same as the argument for any other port).
"""

import selectors
import socket
import sys
import types

selector = selectors.DefaultSelector()


def accept(listener):
    conn, addr = listener.accept()
    print(f"Accepted connection from {addr}")
    conn.setblocking(False)
    state = types.SimpleNamespace(addr=addr, inb=b"", outb=b"")
    selector.register(conn, selectors.EVENT_READ | selectors.EVENT_WRITE, data=state)


def serve(key, mask):
    conn = key.fileobj
    state = key.data
    if mask & selectors.EVENT_READ:
        received = conn.recv(1024)
        if received:
            state.outb += received
        else:
            print(f"Closing connection to {state.addr}")
            selector.unregister(conn)
            conn.close()
            return
    if mask & selectors.EVENT_WRITE and state.outb:
        print(f"Echoing {state.outb!r} to {state.addr}")
        sent = conn.send(state.outb)
        state.outb = state.outb[sent:]


def main():
    if len(sys.argv) != 3:
        print(f"Usage: {sys.argv[0]} <host> <port>")
        sys.exit(1)
    host, port = sys.argv[1], int(sys.argv[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((host, port))
    listener.listen()
    port = listener.getsockname()[1]
    print(f"Listening on {(host, port)}")
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, data=None)
    try:
        while True:
            for key, mask in selector.select(timeout=None):
                if key.data is None:
                    accept(key.fileobj)
                else:
                    serve(key, mask)
    except KeyboardInterrupt:
        print("Caught keyboard interrupt, exiting")
    finally:
        selector.close()


main()
