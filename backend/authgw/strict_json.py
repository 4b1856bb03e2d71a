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

from typing import Any

from authgw_kit.verify import strict_json
from flask.json.provider import DefaultJSONProvider


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, with ``loads`` refusing hostile documents.

    ``loads(s)`` returns what ``json.loads`` does, or raises ``ValueError``
    when the document is malformed, bytes that are not strict UTF-8 (UTF-16,
    CESU-8, a BOM), nested beyond the recursion limit, or holds a string
    that is not valid Unicode text (a lone surrogate).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # The kit's decoder of token JSON (authgw_kit.verify.strict_json):
        # bytes as strict UTF-8 only (RFC 8259 §8.1), so neither a UTF-16
        # body nor CESU-8 bytes smuggle a surrogate past its check.
        try:
            return strict_json(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON document is nested too deeply") from None
