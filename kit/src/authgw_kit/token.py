"""The verified access token handed to application code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator


class VerifiedToken(Mapping):
    """Read-only claims of a verified access token, with typed accessors.

    A mapping (``token["email"]``, ``dict(token)``) plus:

    Attributes:
        subject (str): ``sub``: the user id, or the client id of a machine client.
        session_id (str): ``sid``.
        roles (frozenset[str]): ``roles``.
        permissions (frozenset[str]): ``permissions`` (``resource:action``).
        client_id (str | None): ``client_id`` when present (RFC 9068 §2.2).
        is_client (bool): True for a machine client (service account): the
            token carries ``client_id``.
        expires_at (float): ``exp``, Unix seconds.
        issued_at (float): ``iat``, Unix seconds.
    """

    __slots__ = ("_claims", "subject", "session_id", "roles", "permissions", "client_id", "expires_at",
                 "issued_at")

    def __init__(self, claims: dict[str, Any]):
        self._claims = claims
        self.subject: str = claims["sub"]
        self.session_id: str = claims["sid"]
        self.roles: frozenset[str] = frozenset(claims["roles"])
        self.permissions: frozenset[str] = frozenset(claims["permissions"])
        self.client_id: str | None = claims.get("client_id")
        self.expires_at: float = claims["exp"]
        self.issued_at: float = claims["iat"]

    @property
    def is_client(self) -> bool:
        """True when the token belongs to a machine client (has ``client_id``)."""
        return self.client_id is not None

    @property
    def email(self) -> str:
        """The ``email`` claim."""
        return self._claims["email"]

    @property
    def claims(self) -> dict[str, Any]:
        """The verified claims as a plain dict (do not modify it)."""
        return self._claims

    def has_permission(self, permission: str) -> bool:
        """Return True when the token grants ``permission`` (``resource:action``)."""
        return permission in self.permissions

    def __getitem__(self, name: str) -> Any:
        return self._claims[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._claims)

    def __len__(self) -> int:
        return len(self._claims)

    def __repr__(self) -> str:
        return f"VerifiedToken(subject={self.subject!r}, session_id={self.session_id!r})"
