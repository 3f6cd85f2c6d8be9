#!/usr/bin/env python3
"""Reference blocking echo server (protocol.md section 1).

Usage: echo-server.py [host] [port]   (default 127.0.0.1 65432)

Accepts one connection, prints "Connected by ADDR", echoes every chunk of up
to 1024 bytes in full until the peer closes, then exits.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 65432

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
    server.bind((HOST, PORT))
    server.listen()
    conn, addr = server.accept()
    with conn:
        print(f"Connected by {addr}")
        while True:
            chunk = conn.recv(1024)
            if not chunk:
                break
            conn.sendall(chunk)
