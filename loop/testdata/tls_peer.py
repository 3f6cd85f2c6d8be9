#!/usr/bin/env python3
"""A TLS peer built on Python's ssl module, for the loop package's interop tests.

client HOST PORT CAFILE COUNT SIZE VERSION
    COUNT non-blocking connections over a selector, as the multiconn client
    does, each wrapped with ssl.SSLContext (TLS VERSION, "1.2" or "1.3", ALPN
    "evsel/1"): send SIZE bytes, read them back, then unwrap() (close_notify
    both ways). Prints one "handshake" and one "closed" line per connection.
server CERT KEY COUNT
    Prints "port N", then serves COUNT connections one after the other as a
    TLS echo server; prints "clean close" when the peer sent close_notify.
"""

import selectors
import socket
import ssl
import sys
import types

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def client(host, port, cafile, count, size, version):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
    ctx.set_alpn_protocols(["evsel/1"])
    sel = selectors.DefaultSelector()
    payload = bytes(i % 251 for i in range(size))
    for connid in range(count):
        raw = socket.create_connection((host, port), timeout=10)
        raw.setblocking(False)
        s = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
        st = types.SimpleNamespace(id=connid, hs=True, out=payload, got=bytearray())
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    while sel.get_map():
        events = sel.select(timeout=20)
        if not events:
            sys.exit("stalled")
        for key, _ in events:
            s, st = key.fileobj, key.data
            try:
                if st.hs:
                    s.do_handshake()
                    st.hs = False
                    print(f"handshake {st.id} {s.version()} {s.selected_alpn_protocol()}")
                while st.out:
                    n = s.send(st.out[:65536])
                    st.out = st.out[n:]
                while True:
                    data = s.recv(65536)
                    if not data:
                        sys.exit(f"connection {st.id}: EOF after {len(st.got)} bytes")
                    st.got += data
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            if not st.hs and not st.out:
                sel.modify(s, selectors.EVENT_READ, st)
            if len(st.got) >= size:
                if bytes(st.got) != payload:
                    sys.exit(f"connection {st.id}: echo differs")
                sel.unregister(s)
                s.setblocking(True)
                s.settimeout(10)
                s.unwrap()  # sends close_notify, waits for the peer's
                s.close()
                print(f"closed {st.id}")


def server(cert, key, count):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["evsel/1"])
    ls = socket.create_server(("127.0.0.1", 0))
    print(f"port {ls.getsockname()[1]}", flush=True)
    for i in range(count):
        c, _ = ls.accept()
        c.settimeout(20)
        s = ctx.wrap_socket(c, server_side=True, suppress_ragged_eofs=False)
        print(f"handshake {i} {s.version()} {s.selected_alpn_protocol()}", flush=True)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    print("clean close", flush=True)
                    break
                s.sendall(data)
        except OSError as e:  # ssl.SSLEOFError for a peer without close_notify
            print(f"unclean close: {e!r}", flush=True)
            c.close()
            continue
        try:
            s.unwrap()  # answer with our close_notify, if the peer still listens
        except OSError:
            pass
        c.close()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "client" and len(sys.argv) == 8:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
    elif len(sys.argv) >= 2 and sys.argv[1] == "server" and len(sys.argv) == 5:
        server(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)


main()
