"""Typed exceptions of the service, each carrying its HTTP answer.

Every class is a Werkzeug ``HTTPException`` so ``e.get_response()`` yields
the JSON error body of docs/interface.md ("Errors") with the right status and the
``WWW-Authenticate`` challenge of RFC 6750 §3. ``errors.py`` registers the
handlers that turn any exception into that format.
"""

from __future__ import annotations

import json

from werkzeug.exceptions import HTTPException

REALM = "api"


class APIError(HTTPException):
    """Base of every error answer: ``{"error": code, "error_description": text}``.

    A subclass states its answer in its class statement, e.g.
    ``class NotFound(APIError, code=404, error="not_found", description="No such resource.")``;
    each keyword left out is inherited.

    Class keywords:
        code (int): HTTP status.
        error (str): the ``error`` code of the body (RFC 6749 §5.2, RFC 6750 §3.1).
        description (str): default ``error_description``.
        scheme (str | None): scheme of the ``WWW-Authenticate`` challenge
            (``Bearer`` or ``Basic``), None for no challenge.
        challenge_names_error (bool): the challenge also carries ``error``
            and ``error_description`` (RFC 6750 §3), not only the realm.

    Args:
        description (str | None): human text for ``error_description``;
            the class default when omitted.
        headers (dict[str, str] | None): extra response headers
            (``Retry-After``, for example).
    """

    code = 400
    error = "invalid_request"
    description = "The request is malformed."
    scheme: str | None = None
    challenge_names_error = False

    def __init_subclass__(cls, **answer):
        unknown = set(answer) - {"code", "error", "description", "scheme", "challenge_names_error"}
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown class keywords {sorted(unknown)}")
        super().__init_subclass__()
        for name, value in answer.items():
            setattr(cls, name, value)

    def __init__(self, description: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.extra_headers = dict(headers or {})

    def www_authenticate(self) -> str | None:
        """Return the RFC 6750 §3 (or RFC 7617 Basic) challenge for this error, or None."""
        if self.scheme is None:
            return None
        challenge = f'{self.scheme} realm="{REALM}"'
        if self.challenge_names_error:
            challenge += f', error="{self.error}", error_description="{_quote(self.description)}"'
        return challenge

    def get_headers(self, environ=None, scope=None) -> list[tuple[str, str]]:
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        challenge = self.www_authenticate()
        if challenge:
            headers.append(("WWW-Authenticate", challenge))
        headers.extend(self.extra_headers.items())
        return headers

    def get_body(self, environ=None, scope=None) -> str:
        return json.dumps({"error": self.error, "error_description": self.description})


class InvalidRequest(APIError):
    """400 ``invalid_request`` (RFC 6749 §5.2, RFC 6750 §3.1)."""


class AuthenticationRequired(APIError, code=401, error="invalid_token", scheme="Bearer",
                             description="An access token is required: send Authorization: Bearer <token>."):
    """401 without a token: the challenge names only the realm (RFC 6750 §3)."""


class TokenInvalid(APIError, code=401, error="invalid_token", scheme="Bearer", challenge_names_error=True,
                   description="The access token is invalid."):
    """401 ``invalid_token``: a token was sent but is malformed, forged, expired
    or revoked (RFC 6750 §3.1)."""


class TokenExpired(TokenInvalid, description="The access token has expired."):
    """401 ``invalid_token`` for a token past its ``exp`` (RFC 7519 §4.1.4)."""


class InsufficientScope(APIError, code=403, error="insufficient_scope", scheme="Bearer", challenge_names_error=True,
                        description="The access token does not grant the permission this request needs."):
    """403 ``insufficient_scope``: valid token, missing permission (RFC 6750 §3.1)."""


class InvalidGrant(APIError, code=401, error="invalid_grant", scheme="Bearer",
                   description="The refresh token is invalid, expired or revoked."):
    """401 ``invalid_grant``: the refresh token is unknown, expired, spent or
    revoked (RFC 6749 §5.2; docs/interface.md answers 401)."""


class InvalidClient(APIError, code=401, error="invalid_client", scheme="Basic",
                    description="Client authentication failed."):
    """401 ``invalid_client``: client authentication failed at the token
    endpoint: unknown client, wrong secret, or none sent (RFC 6749 §5.2).

    The answer carries ``WWW-Authenticate: Basic realm="api"``: RFC 6749
    §5.2 requires it when the client used HTTP Basic, and HTTP (RFC 9110
    §15.5.2) requires a challenge on every 401, so it is sent every time.
    """


class UnsupportedGrantType(APIError, error="unsupported_grant_type",
                           description="This grant type is not supported; use grant_type=client_credentials."):
    """400 ``unsupported_grant_type`` (RFC 6749 §5.2): only
    ``client_credentials`` is offered; ``password`` never is (RFC 9700 §2.4)."""


class InvalidScope(APIError, error="invalid_scope",
                   description="Scopes are not supported: the token carries the permissions of the account's roles."):
    """400 ``invalid_scope`` (RFC 6749 §5.2)."""


class NotAllowed(APIError, code=403, error="not_allowed", description="This email address may not sign in here."):
    """403 ``not_allowed``: the email is not on the allowlist (docs/authorization.md)."""


class AccountDisabled(APIError, code=403, error="account_disabled", description="This account is disabled."):
    """403 ``account_disabled``: an administrator disabled the account."""


class OriginRejected(APIError, code=403, error="invalid_origin",
                     description="This request must come from the application's own origin."):
    """403 ``invalid_origin``: a cookie-authenticated request without our Origin."""


class Conflict(APIError, code=409, error="conflict", description="The request conflicts with the current state."):
    """409 ``conflict``: the request contradicts the current state (the last
    active admin cannot lose ``admin``, an email already has an account...)."""


class NotFound(APIError, code=404, error="not_found", description="No such resource."):
    """404 ``not_found``: no such user, role or service account."""


class RateLimited(APIError, code=429, error="rate_limited", description="Too many requests; retry later."):
    """429 ``rate_limited``: a rate limit of docs/configuration.md was exceeded."""


class ServiceUnavailable(APIError, code=503, error="service_unavailable",
                         description="The service is temporarily unavailable; retry shortly."):
    """503 ``service_unavailable``: a dependency (the database) is unreachable."""


class LoginFailed(Exception):
    """A browser login failed; answered with ``303 /login?error=<code>``.

    Args:
        code (str): one of docs/interface.md's login error codes (``access_denied``,
            ``invalid_state``, ``invalid_id_token``, ``email_not_verified``,
            ``not_allowed``, ``account_disabled``, ``provider_error``).
        reason (str): detail for the audit log and server log, never shown
            to the browser.
    """

    CODES = frozenset(
        {"access_denied", "invalid_state", "invalid_id_token", "email_not_verified",
         "not_allowed", "account_disabled", "provider_error"}
    )

    def __init__(self, code: str, reason: str = ""):
        assert code in self.CODES, code
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason or code


def _quote(text: str) -> str:
    # RFC 6750 §3: error_description is a quoted-string of printable ASCII
    # without '"' or '\'.
    return "".join(ch for ch in text if 0x20 <= ord(ch) < 0x7F and ch not in '"\\')
