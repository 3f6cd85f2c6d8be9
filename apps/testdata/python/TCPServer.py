#!/usr/bin/env python3
"""The socketserver.TCPServer example of Python's documentation.

Usage: TCPServer.py [host [port]]   (default localhost 9999)

Written from the seed document's text; the only change is that host and
port may be given, so that tests can pick a free port.
"""

import socketserver
import sys


class MyTCPHandler(socketserver.BaseRequestHandler):
    """
    The request handler class for our server.

    It is instantiated once per connection to the server, and must
    override the handle() method to implement communication to the
    client.
    """

    def handle(self):
        # self.request is the TCP socket connected to the client
        self.data = self.request.recv(1024).strip()
        print("{} wrote:".format(self.client_address[0]))
        print(self.data)
        # just send back the same data, but upper-cased
        self.request.sendall(self.data.upper())


if __name__ == "__main__":
    HOST = sys.argv[1] if len(sys.argv) > 1 else "localhost"
    PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 9999

    # Create the server, binding to localhost on port 9999
    with socketserver.TCPServer((HOST, PORT), MyTCPHandler) as server:
        # Activate the server; this will keep running until you
        # interrupt the program with Ctrl-C
        server.serve_forever()
