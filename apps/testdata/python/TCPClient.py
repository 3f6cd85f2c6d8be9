#!/usr/bin/env python3
"""The client of the socketserver.TCPServer example of Python's documentation.

Usage: TCPClient.py [-host H] [-port P] words...   (default localhost 9999)

Written from the seed document's text; the only change is that host and
port may be given first, as to the Go tcpclient, so that tests can pick a
free port.
"""

import socket
import sys

HOST, PORT = "localhost", 9999
args = sys.argv[1:]
while len(args) >= 2 and args[0] in ("-host", "-port"):
    if args[0] == "-host":
        HOST = args[1]
    else:
        PORT = int(args[1])
    args = args[2:]
data = " ".join(args)

# Create a socket (SOCK_STREAM means a TCP socket)
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    # Connect to server and send data
    sock.connect((HOST, PORT))
    sock.sendall(bytes(data + "\n", "utf-8"))

    # Receive data from the server and shut down
    received = str(sock.recv(1024), "utf-8")

print("Sent:     {}".format(data))
print("Received: {}".format(received))
