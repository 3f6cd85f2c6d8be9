"""Server side of the application protocol in shared/protocol.md.

One Message object per accepted connection. It is driven by the selector
loop in app-server.py: process_events() is called with the ready events, reads
one request frame, answers it, and closes the connection once the answer has
been sent, as the reference server does.
"""

import io
import json
import selectors
import struct
import sys

SEARCH_ANSWERS = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}

REQUIRED_HEADERS = ("byteorder", "content-length", "content-type", "content-encoding")


def json_encode(obj, encoding):
    return json.dumps(obj, ensure_ascii=False).encode(encoding)


def json_decode(data, encoding):
    with io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="") as text:
        return json.load(text)


class Message:
    def __init__(self, selector, sock, addr):
        self.selector = selector
        self.sock = sock
        self.addr = addr
        self._inbuf = b""
        self._outbuf = b""
        self._header_len = None
        self.jsonheader = None
        self.request = None
        self._answered = False

    def _watch(self, mode):
        events = {"r": selectors.EVENT_READ, "w": selectors.EVENT_WRITE}[mode]
        self.selector.modify(self.sock, events, data=self)

    def process_events(self, mask):
        if mask & selectors.EVENT_READ:
            self.read()
        if mask & selectors.EVENT_WRITE:
            self.write()

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
        if self.jsonheader is not None and self.request is None:
            self._take_request()

    def _take_request(self):
        length = self.jsonheader["content-length"]
        if len(self._inbuf) < length:
            return
        data, self._inbuf = self._inbuf[:length], self._inbuf[length:]
        if self.jsonheader["content-type"] == "text/json":
            self.request = json_decode(data, self.jsonheader["content-encoding"])
            print(f"Received request {self.request!r} from {self.addr}")
        else:
            self.request = data
            print(f"Received {self.jsonheader['content-type']} request from {self.addr}")
        self._watch("w")

    def _answer(self):
        if self.jsonheader["content-type"] == "text/json":
            action = self.request.get("action")
            if action == "search":
                query = self.request.get("value")
                answer = SEARCH_ANSWERS.get(query) or f"No match for '{query}'."
            else:
                answer = f"Error: invalid action '{action}'."
            content_type, encoding = "text/json", "utf-8"
            content = json_encode({"result": answer}, encoding)
        else:
            content_type, encoding = "binary/custom-server-binary-type", "binary"
            content = b"First 10 bytes of request: " + self.request[:10]
        header = {
            "byteorder": sys.byteorder,
            "content-type": content_type,
            "content-encoding": encoding,
            "content-length": len(content),
        }
        header_bytes = json_encode(header, "utf-8")
        return struct.pack(">H", len(header_bytes)) + header_bytes + content

    def write(self):
        if self.request is None:
            return
        if not self._answered:
            self._outbuf = self._answer()
            self._answered = True
        if self._outbuf:
            print(f"Sending {self._outbuf!r} to {self.addr}")
            try:
                sent = self.sock.send(self._outbuf)
            except BlockingIOError:
                return
            self._outbuf = self._outbuf[sent:]
        if not self._outbuf:
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
