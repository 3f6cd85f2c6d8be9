#!/usr/bin/env python3
"""app-client.py <host> <port> <action> <value>: send one request, print the answer."""

import selectors
import socket
import sys
import traceback

import libclient


def main():
    if len(sys.argv) != 5:
        print(f"Usage: {sys.argv[0]} <host> <port> <action> <value>")
        sys.exit(1)
    host, port = sys.argv[1], int(sys.argv[2])
    action, value = sys.argv[3], sys.argv[4]

    sel = selectors.DefaultSelector()
    addr = (host, port)
    print(f"Starting connection to {addr}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex(addr)
    request = libclient.create_request(action, value)
    message = libclient.Message(sel, sock, addr, request)
    sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=message)

    try:
        while True:
            for key, mask in sel.select(timeout=1):
                message = key.data
                try:
                    message.process_events(mask)
                except Exception:
                    print(f"Main: Error: Exception for {message.addr}:\n{traceback.format_exc()}")
                    message.close()
            if not sel.get_map():
                break
    except KeyboardInterrupt:
        print("Caught keyboard interrupt, exiting")
    finally:
        sel.close()


if __name__ == "__main__":
    main()
