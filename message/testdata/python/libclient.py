"""Client side of the application protocol in shared/protocol.md.

A Message sends one request frame, reads one response frame, prints the
result, and closes, as the reference client does.
"""

import io
import json
import selectors
import struct
import sys

REQUIRED_HEADERS = ("byteorder", "content-length", "content-type", "content-encoding")


def json_encode(obj, encoding):
    return json.dumps(obj, ensure_ascii=False).encode(encoding)


def json_decode(data, encoding):
    with io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="") as text:
        return json.load(text)


def create_request(action, value):
    """The request the reference client sends for its command line."""
    if action == "search":
        return {
            "type": "text/json",
            "encoding": "utf-8",
            "content": {"action": action, "value": value},
        }
    return {
        "type": "binary/custom-client-binary-type",
        "encoding": "binary",
        "content": (action + value).encode("utf-8"),
    }


class Message:
    def __init__(self, selector, sock, addr, request):
        self.selector = selector
        self.sock = sock
        self.addr = addr
        self.request = request
        self._inbuf = b""
        self._outbuf = b""
        self._queued = False
        self._header_len = None
        self.jsonheader = None
        self.response = None

    def _watch(self, mode):
        events = {"r": selectors.EVENT_READ, "w": selectors.EVENT_WRITE}[mode]
        self.selector.modify(self.sock, events, data=self)

    def process_events(self, mask):
        if mask & selectors.EVENT_READ:
            self.read()
        if mask & selectors.EVENT_WRITE:
            self.write()

    def _frame(self):
        req = self.request
        if req["type"] == "text/json":
            content = json_encode(req["content"], req["encoding"])
        else:
            content = req["content"]
        header = {
            "byteorder": sys.byteorder,
            "content-type": req["type"],
            "content-encoding": req["encoding"],
            "content-length": len(content),
        }
        header_bytes = json_encode(header, "utf-8")
        return struct.pack(">H", len(header_bytes)) + header_bytes + content

    def write(self):
        if not self._queued:
            self._outbuf = self._frame()
            self._queued = True
        if self._outbuf:
            print(f"Sending {self._outbuf!r} to {self.addr}")
            try:
                sent = self.sock.send(self._outbuf)
            except BlockingIOError:
                return
            self._outbuf = self._outbuf[sent:]
        if not self._outbuf:
            # Everything is sent: wait for the answer.
            self._watch("r")

    def read(self):
        try:
            chunk = self.sock.recv(4096)
        except BlockingIOError:
            return
        if not chunk:
            raise RuntimeError("Peer closed.")
        self._inbuf += chunk

        if self._header_len is None and len(self._inbuf) >= 2:
            (self._header_len,) = struct.unpack(">H", self._inbuf[:2])
            self._inbuf = self._inbuf[2:]
        if self._header_len is not None and self.jsonheader is None:
            if len(self._inbuf) >= self._header_len:
                self.jsonheader = json_decode(self._inbuf[: self._header_len], "utf-8")
                self._inbuf = self._inbuf[self._header_len :]
                for key in REQUIRED_HEADERS:
                    if key not in self.jsonheader:
                        raise ValueError(f"Missing required header '{key}'.")
        if self.jsonheader is not None and self.response is None:
            self._take_response()

    def _take_response(self):
        length = self.jsonheader["content-length"]
        if len(self._inbuf) < length:
            return
        data, self._inbuf = self._inbuf[:length], self._inbuf[length:]
        if self.jsonheader["content-type"] == "text/json":
            self.response = json_decode(data, self.jsonheader["content-encoding"])
            print(f"Received response {self.response!r} from {self.addr}")
            print(f"Got result: {self.response.get('result')}")
        else:
            self.response = data
            print(f"Received {self.jsonheader['content-type']} response from {self.addr}")
            print(f"Got response: {self.response!r}")
        # One response is all the client waits for.
        self.close()

    def close(self):
        print(f"Closing connection to {self.addr}")
        try:
            self.selector.unregister(self.sock)
        except Exception as e:
            print(f"Error: selector.unregister() exception for {self.addr}: {e!r}")
        try:
            self.sock.close()
        except OSError as e:
            print(f"Error: socket.close() exception for {self.addr}: {e!r}")
        finally:
            self.sock = None
