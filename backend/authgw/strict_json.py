"""Request bodies decoded strictly: hostile JSON is bad input, not a crash.

Flask's ``request.get_json()`` turns a ``ValueError`` into "no JSON" (with
``silent=True``) or a 400; two kinds of hostile bodies escaped that and
answered 500 (docs/interface.md "Errors": bad input gets a 4xx):

- nesting deep enough to exhaust Python's recursion limit (``"[" * 60000``),
  which ``json.loads`` raises as ``RecursionError``;
- a lone UTF-16 surrogate escape (``"\\ud800"``), which JSON allows but no
  UTF-8 text can hold: the value then fails wherever it is encoded (a hash,
  the database).

:class:`StrictJSONProvider` raises ``ValueError`` for both, so every body
reader answers them like any other malformed JSON.
"""

from __future__ import annotations

import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

#: A backslash escape of a UTF-16 surrogate (D800-DFFF) anywhere in the text:
#: only then can a decoded string hold one, so only then are strings walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) in a decoded JSON value cannot be UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, with ``loads`` refusing hostile documents.

    ``loads(s)`` returns what ``json.loads`` does, or raises ``ValueError``
    when the document is malformed, nested beyond the recursion limit, or
    holds a string that is not valid Unicode text (a lone surrogate).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON document is nested too deeply") from None
        text = s.decode("utf-8", "replace") if isinstance(s, (bytes, bytearray)) else s
        if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
            raise ValueError("the JSON document holds a lone UTF-16 surrogate")
        return value
