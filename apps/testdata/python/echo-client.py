#!/usr/bin/env python3
"""Reference blocking echo client (protocol.md section 1).

Usage: echo-client.py [host] [port]   (default 127.0.0.1 65432)

Sends b"Hello, world", reads one reply and prints its repr.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 65432

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
    client.connect((HOST, PORT))
    client.sendall(b"Hello, world")
    reply = client.recv(1024)

print(f"Received {reply!r}")
