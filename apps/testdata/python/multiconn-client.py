#!/usr/bin/env python3
"""Reference multi-connection echo client over a selector (protocol.md section 2).

Usage: multiconn-client.py <host> <port> <num_connections>

Each connection sends two 22-byte messages and closes once 44 bytes came
back, or on EOF; the program ends when no connection is left.
"""

import selectors
import socket
import sys
import types

selector = selectors.DefaultSelector()
MESSAGES = [b"Message 1 from client.", b"Message 2 from client."]


def start(host, port, count):
    server = (host, port)
    for connid in range(1, count + 1):
        print(f"Starting connection {connid} to {server}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(server)
        state = types.SimpleNamespace(
            connid=connid,
            msg_total=sum(len(m) for m in MESSAGES),
            recv_total=0,
            messages=list(MESSAGES),
            outb=b"",
        )
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=state)


def serve(key, mask):
    sock = key.fileobj
    state = key.data
    if mask & selectors.EVENT_READ:
        received = sock.recv(1024)
        if received:
            print(f"Received {received!r} from connection {state.connid}")
            state.recv_total += len(received)
        if not received or state.recv_total == state.msg_total:
            print(f"Closing connection {state.connid}")
            selector.unregister(sock)
            sock.close()
            return
    if mask & selectors.EVENT_WRITE:
        if not state.outb and state.messages:
            state.outb = state.messages.pop(0)
        if state.outb:
            print(f"Sending {state.outb!r} to connection {state.connid}")
            sent = sock.send(state.outb)
            state.outb = state.outb[sent:]


def main():
    if len(sys.argv) != 4:
        print(f"Usage: {sys.argv[0]} <host> <port> <num_connections>")
        sys.exit(1)
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start(host, port, count)
    try:
        while True:
            for key, mask in selector.select(timeout=1):
                serve(key, mask)
            if not selector.get_map():
                break
    except KeyboardInterrupt:
        print("Caught keyboard interrupt, exiting")
    finally:
        selector.close()


main()
