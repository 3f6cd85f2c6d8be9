"""Print Python's own spelling of values the Go tests send, one JSON line in,
one JSON line out, so the Go encoder and repr functions can be compared with
CPython itself rather than with a table written by hand.

Input lines:  {"float": "<float.hex()>"} | {"str": "..."} | {"bytes": "<hex>"}
Output lines: {"json": json.dumps(x, ensure_ascii=False), "repr": repr(x)}
"""

import json
import sys

for line in sys.stdin:
    item = json.loads(line)
    if "float" in item:
        x = float.fromhex(item["float"])
    elif "str" in item:
        x = item["str"]
    else:
        x = bytes.fromhex(item["bytes"])
    out = {"repr": repr(x)}
    if not isinstance(x, bytes):
        out["json"] = json.dumps(x, ensure_ascii=False)
    # ensure_ascii=True here only so the pipe carries plain ASCII.
    print(json.dumps(out))
