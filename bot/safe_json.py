"""JSON from outside (Slack's requests, alert webhooks), parsed within limits.

Python's parser recurses once per nesting level and turns any run of digits into an int:
JSON nested 100,000 levels deep (under 1 MB) raised RecursionError, and a 5,000-digit
number ValueError from int(), each a 500 with a traceback. Here both are refused as bad
input (`BadJSON`, a ValueError), which the edges answer 400 and count.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # Slack's deepest payloads (a view's state in blocks) stay far below
MAX_DIGITS = 64  # no number anyone sends us is longer


class BadJSON(ValueError):
    pass


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_DIGITS:
            raise BadJSON(f"a number of {len(text)} characters is too long")
        return kind(text)

    return parse


def _constant(name: str) -> Any:
    raise BadJSON(f"{name} is not JSON")


# One decoder for every call (json.loads with options builds a new one each time).
_DECODER = json.JSONDecoder(parse_int=_number(int), parse_float=_number(float),
                            parse_constant=_constant)


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing (BadJSON) deep nesting, long numbers, NaN and Infinity."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        raise BadJSON(f"nested more than {MAX_DEPTH} levels deep") from None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise BadJSON(f"nested more than {MAX_DEPTH} levels deep")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children
                         if isinstance(child, dict | list))
    return data
