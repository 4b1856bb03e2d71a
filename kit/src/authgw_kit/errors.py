"""Errors of the kit, each carrying its RFC 6750 answer.

Every error is a :class:`TokenError` with the HTTP ``status``, the
``error`` code, a human ``description`` and the ``WWW-Authenticate``
challenge of RFC 6750 §3, so any framework renders the same answer::

    {"error": "<code>", "error_description": "<text>"}

The adapters (``authgw_kit.flask``, ``authgw_kit.asgi``) do exactly that;
nothing here imports a framework. No description ever contains the token.
"""

from __future__ import annotations

#: The protection space named in every challenge (RFC 6750 §3).
REALM = "api"

#: ``error`` codes for plain HTTP errors (a framework's own 400, 404, 405,
#: 413...), so a service answers them in the same ``{"error",
#: "error_description"}`` shape as token errors. RFC 6749 §5.2 / RFC 6750
#: §3.1 words where they apply; a service adds its own, e.g.
#: ``{**HTTP_ERROR_CODES, 403: "forbidden"}``, and falls back to ``"error"``.
HTTP_ERROR_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "invalid_token",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "request_too_large",
    414: "uri_too_long",
    431: "request_header_fields_too_large",
    500: "server_error",
    503: "service_unavailable",
}


def _quote(text: str) -> str:
    # RFC 6750 §3: error_description is printable ASCII without '"' or '\'.
    return "".join(ch for ch in text if 0x20 <= ord(ch) < 0x7F and ch not in '"\\')


class TokenError(Exception):
    """Base of every refusal: an HTTP status, an error code and a challenge.

    Args:
        description (str | None): human text for ``error_description``;
            the class default when omitted. Never put a token in it.

    Attributes:
        status (int): HTTP status code.
        error (str): the RFC 6749/6750 error code.
        description (str): human text.
    """

    status = 401
    error = "invalid_token"
    description = "The access token is invalid."

    def __init__(self, description: str | None = None):
        if description is not None:
            self.description = description
        super().__init__(self.description)

    @property
    def www_authenticate(self) -> str | None:
        """Return the ``WWW-Authenticate`` value (RFC 6750 §3), or None."""
        return f'Bearer realm="{REALM}", error="{self.error}", error_description="{_quote(self.description)}"'

    def headers(self) -> dict[str, str]:
        """Return the response headers of this error (challenge, ``Retry-After``).

        Returns:
            dict[str, str]: header name -> value; always ``Cache-Control:
            no-store``, plus ``WWW-Authenticate`` and ``Retry-After`` where
            they apply.
        """
        headers = {"Cache-Control": "no-store"}
        challenge = self.www_authenticate
        if challenge:
            headers["WWW-Authenticate"] = challenge
        return headers

    def to_dict(self) -> dict[str, str]:
        """Return the JSON body: ``{"error": code, "error_description": text}``."""
        return {"error": self.error, "error_description": self.description}


class MissingToken(TokenError):
    """401: the request carries no bearer token.

    RFC 6750 §3.1: a request without authentication information gets a
    challenge without an error code: ``Bearer realm="api"``. The JSON body
    still says ``invalid_token`` (the error format needs a code).
    """

    description = "An access token is required: send Authorization: Bearer <token>."

    @property
    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}"'


class InvalidToken(TokenError):
    """401 ``invalid_token``: a token was sent but is malformed, forged,
    expired, revoked or not for us (RFC 6750 §3.1)."""


class ExpiredToken(InvalidToken):
    """401 ``invalid_token`` for a token past its ``exp`` plus leeway
    (RFC 7519 §4.1.4). A subclass, so ``except InvalidToken`` catches it."""

    description = "The access token has expired."


class InsufficientScope(TokenError):
    """403 ``insufficient_scope``: a valid token without the permission the
    request needs (RFC 6750 §3.1).

    Args:
        description (str | None): human text.
        permission (str | None): the permission that was needed.
    """

    status = 403
    error = "insufficient_scope"
    description = "The access token does not grant the permission this request needs."

    def __init__(self, description: str | None = None, *, permission: str | None = None):
        if description is None and permission:
            description = f"This request needs the {permission!r} permission."
        super().__init__(description)
        self.permission = permission


class VerifierUnavailable(TokenError):
    """503 ``service_unavailable`` with ``Retry-After``: the token cannot be
    checked now (no JWK Set yet, or the revocation list is older than the
    trust window). Clients retry after ``retry_after`` seconds.

    Args:
        description (str | None): human text.
        retry_after (int): seconds, sent as ``Retry-After`` (RFC 9110 §10.2.3).
    """

    status = 503
    error = "service_unavailable"
    description = "Access tokens cannot be checked right now; retry shortly."

    def __init__(self, description: str | None = None, *, retry_after: int = 5):
        super().__init__(description)
        self.retry_after = int(retry_after)

    @property
    def www_authenticate(self) -> None:
        return None

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        headers["Retry-After"] = str(self.retry_after)
        return headers


__all__ = ["REALM", "HTTP_ERROR_CODES", "TokenError", "MissingToken", "InvalidToken", "ExpiredToken", "InsufficientScope", "VerifierUnavailable"]
