#!/usr/bin/env python3
"""Reference UDP echo server: the recvfrom/sendto echo of Python's socket
documentation.

Usage: udp-echo-server.py [host port]   (default 127.0.0.1 10000)

Prints "Listening on ADDR" (port 0 picks a free port), then sends every
datagram back to its sender until interrupted.
"""

import socket
import sys

if len(sys.argv) not in (1, 3):
    print(f"Usage: {sys.argv[0]} [host port]")
    sys.exit(1)
HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 10000

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.bind((HOST, PORT))
    print(f"Listening on {s.getsockname()}", flush=True)
    try:
        while True:
            data, addr = s.recvfrom(65535)
            s.sendto(data, addr)
    except KeyboardInterrupt:
        print("Caught keyboard interrupt, exiting")
