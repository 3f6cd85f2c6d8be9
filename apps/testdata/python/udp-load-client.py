#!/usr/bin/env python3
"""UDP load client with plain sockets (socket.SOCK_DGRAM, sendto/recvfrom).

Usage: udp-load-client.py host port [sockets [datagrams [max_size]]]
       (default 50 sockets x 1000 datagrams of random sizes up to 1400 bytes)

Every socket sends one datagram at a time, "SOCKET SEQ " and random bytes
up to a random size, and waits for its echo, which must come from the
server and equal what was sent. UDP on loopback may drop under load: a
datagram not answered within 0.3 s is sent again, and an echo of an
earlier (resent) datagram is ignored. Every datagram must be answered
eventually. Ends with

    verified=50000 resent=N mismatches=0

and exits 0, or exits 1 on a mismatch or when 120 s pass.
"""

import os
import random
import select
import socket
import sys
import time

if len(sys.argv) < 3:
    print(f"Usage: {sys.argv[0]} host port [sockets [datagrams [max_size]]]")
    sys.exit(1)
host, port = sys.argv[1], int(sys.argv[2])
nsock = int(sys.argv[3]) if len(sys.argv) > 3 else 50
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
max_size = int(sys.argv[5]) if len(sys.argv) > 5 else 1400
server = (host, port)
rng = random.Random(12)
RESEND = 0.3


def payload(sid, seq):
    head = f"{sid} {seq} ".encode()
    size = rng.randint(len(head), max(len(head), max_size))
    return head + os.urandom(size - len(head))


socks = []
state = {}  # fd -> [socket, id, seq, expected bytes, deadline]
for i in range(nsock):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    socks.append(s)
    state[s.fileno()] = [s, i, 0, payload(i, 0), 0.0]

verified = resent = mismatches = 0
start = time.monotonic()
for st in state.values():
    st[0].sendto(st[3], server)
    st[4] = time.monotonic() + RESEND
active = {fd for fd in state}

while active:
    now = time.monotonic()
    if now - start > 120:
        print(f"timed out: verified={verified} resent={resent} active={len(active)}")
        sys.exit(1)
    timeout = max(0.0, min(state[fd][4] for fd in active) - now)
    readable, _, _ = select.select([state[fd][0] for fd in active], [], [], timeout)
    for s in readable:
        st = state[s.fileno()]
        while True:
            try:
                data, addr = s.recvfrom(65535)
            except BlockingIOError:
                break
            if addr != server:
                print(f"datagram from {addr}, not the server {server}")
                sys.exit(1)
            if data == st[3]:
                verified += 1
                st[2] += 1
                if st[2] == count:
                    active.discard(s.fileno())
                    break
                st[3] = payload(st[1], st[2])
                s.sendto(st[3], server)
                st[4] = time.monotonic() + RESEND
                continue
            head = data.split(b" ", 2)
            if len(head) == 3 and head[0] == str(st[1]).encode() and head[1].isdigit() and int(head[1]) < st[2]:
                continue  # the late echo of a datagram sent again
            mismatches += 1
            print(f"socket {st[1]}: echo of {len(data)} bytes does not match datagram {st[2]} ({len(st[3])} bytes)")
            sys.exit(1)
    now = time.monotonic()
    for fd in active:
        st = state[fd]
        if now >= st[4]:
            st[0].sendto(st[3], server)
            st[4] = now + RESEND
            resent += 1

for s in socks:
    s.close()
print(f"verified={verified} resent={resent} mismatches={mismatches}")
