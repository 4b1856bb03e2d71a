"""Validation of post-login redirect targets (open redirect defence).

RFC 9700 §4.11 (open redirectors): ``next`` is only ever a path on this
origin, so a link like ``/api/auth/login?next=https://evil.example`` cannot
send a freshly signed-in user elsewhere.
"""

from __future__ import annotations

from urllib.parse import unquote

#: Longest ``next`` kept, in characters.
MAX_NEXT_LENGTH = 2048


def safe_next_path(candidate: str | None) -> str:
    """Return ``candidate`` if it is a local path, else ``"/"``.

    A local path starts with exactly one ``/``, has no scheme or host, no
    backslash, no control characters and no raw whitespace (checked also
    percent-decoded, since browsers normalise ``%5C`` and ``%09``), and is
    at most ``MAX_NEXT_LENGTH`` characters long (docs/interface.md, "Browser
    login" step 1).

    Args:
        candidate: the raw ``next`` parameter, or None.

    Returns:
        str: ``candidate`` unchanged, or ``"/"``.
    """
    if not isinstance(candidate, str) or not candidate or len(candidate) > MAX_NEXT_LENGTH:
        return "/"
    decoded = candidate
    for _ in range(3):  # nested percent-encoding
        decoded = unquote(decoded)
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in candidate):
        return "/"
    for text in (candidate, decoded):
        if not text.startswith("/") or text.startswith("//") or "\\" in text:
            return "/"
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            return "/"
    return candidate
