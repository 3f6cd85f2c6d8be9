#!/usr/bin/env python3
"""Write the golden frames the Go tests compare against.

Every frame here is built the way shared/protocol.md says the Python reference
builds it -- json.dumps(obj, ensure_ascii=False) encoded as UTF-8, behind a
struct.pack(">H") length -- independently of both the Go code and the Python
programs in python/, so that neither can drift from the contract unnoticed.

Run from anywhere; rewrites testdata/golden/ next to this script:

    python3 message/testdata/gen_golden.py
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden")

# The search table from protocol.md.
ANSWERS = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


def frame(content_type, content_encoding, content):
    header = {
        "byteorder": "little",  # sys.byteorder on the machines we test on
        "content-type": content_type,
        "content-encoding": content_encoding,
        "content-length": len(content),
    }
    hdr = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return struct.pack(">H", len(hdr)) + hdr + content


def json_frame(obj):
    return frame("text/json", "utf-8", json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def respond_json(request):
    action = request.get("action")
    if action == "search":
        query = request.get("value")
        answer = ANSWERS.get(query) or f"No match for '{query}'."
    else:
        answer = f"Error: invalid action '{action}'."
    return {"result": answer}


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []

    def add(name, request, response, client_args, result_line, received_line):
        for suffix, data in (("req", request), ("resp", response)):
            with open(os.path.join(OUT, f"{name}.{suffix}.bin"), "wb") as f:
                f.write(data)
            with open(os.path.join(OUT, f"{name}.{suffix}.hex"), "w") as f:
                hx = data.hex()
                f.write("".join(hx[i:i + 64] + "\n" for i in range(0, len(hx), 64)))
        cases.append({
            "name": name,
            # None: the reference client cannot send this request.
            "client_args": client_args,
            # Lines the reference client prints for this exchange, without
            # the address part, which depends on the port.
            "sending_repr": repr(request),
            # The server prints the same for its response.
            "response_repr": repr(response),
            "received_line": received_line,
            "result_line": result_line,
        })

    def json_case(name, req_obj, client_args):
        resp_obj = respond_json(req_obj)
        add(name, json_frame(req_obj), json_frame(resp_obj), client_args,
            f"Got result: {resp_obj.get('result')}",
            f"Received response {resp_obj!r}")

    def search(name, value):
        json_case(name, {"action": "search", "value": value}, ["search", value])

    search("search_morpheus", "morpheus")
    search("search_ring", "ring")
    search("search_dog", "\U0001f436")
    search("search_nomatch", "the matrix")
    search("search_escapes", "it's \"x\" \\ tab\t caf\u00e9 \u2028")
    # A JSON request whose action is not "search"; the reference client sends
    # other actions as binary, so only a hand-made client can send this.
    json_case("json_invalid_action", {"action": "double", "value": "foo"}, None)
    json_case("json_missing_action", {"value": "morpheus"}, None)

    def binary(name, action, value):
        req_content = (action + value).encode("utf-8")
        resp_content = b"First 10 bytes of request: " + req_content[:10]
        add(name,
            frame("binary/custom-client-binary-type", "binary", req_content),
            frame("binary/custom-server-binary-type", "binary", resp_content),
            [action, value],
            f"Got response: {resp_content!r}",
            "Received binary/custom-server-binary-type response")

    binary("binary_double_foo", "double", "foo")
    binary("binary_long", "double", "something longer than ten bytes")
    binary("binary_utf8", "\u00e9cho", "\U0001f436\U0001f436")

    # Not an exchange: one frame whose header carries extra keys of every
    # JSON type, to pin the encoder's spelling of numbers, escapes and
    # nesting to json.dumps'.
    header = {
        "byteorder": "little",
        "content-type": "text/json",
        "content-encoding": "utf-8",
        "content-length": 2,
        "x-floats": [1.0, 0.1, 1e16, 1e15, 1.5e-05, 0.0001, 123456789.123,
                     -0.0, 1e22, 5e-324, 1.7976931348623157e308, 2.5e-7],
        "x-ints": [0, -1, 12345678901234567890123],
        "x-str": "\x00\x01\x1f\x7f<>&'\u2028\u00e9\U0001f436 \"\\/\b\f\n\r\t",
        "x-nested": {"a": [True, False, None, {}, []], "b": {"c": {"d": "e"}}},
        "x-\u00fcnicode key": "v",
    }
    hdr = json.dumps(header, ensure_ascii=False).encode("utf-8")
    with open(os.path.join(OUT, "extra_keys.frame.bin"), "wb") as f:
        f.write(struct.pack(">H", len(hdr)) + hdr + b"{}")

    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
