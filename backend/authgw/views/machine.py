"""Machine clients: the token endpoint and the authorization server metadata.

- ``POST /api/auth/token``: the client credentials grant (RFC 6749 §4.4)
  for service accounts, form-encoded, with ``client_secret_basic`` or
  ``client_secret_post`` client authentication (§2.3.1). Every answer has
  ``Cache-Control: no-store`` and ``Pragma: no-cache`` (§5.1); errors are
  §5.2's. The resource owner password grant is never offered (RFC 9700
  §2.4): ``grant_type=password`` is ``unsupported_grant_type``.
- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata.

docs/machine-clients.md shows how to call them.
"""

from __future__ import annotations

import binascii
import base64
from urllib.parse import unquote_plus

from flask import Blueprint, Response, jsonify, request
from flask_limiter.util import get_remote_address

from ..audit import record_event
from ..bearer import public
from ..bulkhead import no_database
from ..exceptions import InvalidClient, InvalidRequest, InvalidScope, UnsupportedGrantType
from ..extension import current_authgw
from ..extensions import db, limiter
from ..service_accounts import MAX_CLIENT_SECRET_LENGTH, issue_client_token

bp = Blueprint("machine", __name__)

FORM = "application/x-www-form-urlencoded"
#: Failed client authentications allowed per client id, and per client
#: address (docs/machine-clients.md "Rate limits"); successes do not count.
FAILURES_PER_CLIENT = "10 per minute"
FAILURES_PER_ADDRESS = "30 per minute"
#: Longest client id looked at, in characters.
MAX_CLIENT_ID_LENGTH = 64
GRANT_TYPES = ("client_credentials",)
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def _basic_credentials() -> tuple[str, str] | None:
    """The client id and secret of an ``Authorization: Basic`` header, each
    form-urlencoded inside it (RFC 6749 §2.3.1), or None without Basic.

    Raises:
        InvalidClient: a Basic header that does not decode.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClient("The Basic credentials are not base64 of client_id:client_secret.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("The Basic credentials are not base64 of client_id:client_secret.")
    return unquote_plus(client_id), unquote_plus(secret)


def _client_id_key() -> str:
    """Rate-limit key: the client id the request claims (Basic or form)."""
    client_id = None
    try:
        basic = _basic_credentials()
    except InvalidClient:
        basic = None
    if basic is not None:
        client_id = basic[0]
    elif request.mimetype == FORM:
        client_id = request.form.get("client_id")
    return "client:" + (client_id or "-")[:MAX_CLIENT_ID_LENGTH]


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _single(form, name: str) -> str | None:
    """A form parameter sent at most once (RFC 6749 §3.2), or None."""
    values = form.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"The parameter {name} is repeated.")
    return values[0] if values else None


TOKEN_PATH = "/api/auth/token"


@bp.after_app_request
def _no_store(response: Response) -> Response:
    # RFC 6749 §5.1: token endpoint answers, errors (405, 429...) included,
    # are never cached.
    if request.path == TOKEN_PATH:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


@bp.post(TOKEN_PATH)
@public
@limiter.limit(FAILURES_PER_CLIENT, key_func=_client_id_key, deduct_when=_failed)
@limiter.limit(FAILURES_PER_ADDRESS, key_func=get_remote_address, deduct_when=_failed)
def token():
    """Issue an access token to a service account (RFC 6749 §4.4).

    Form body: ``grant_type=client_credentials``, and ``client_id`` +
    ``client_secret`` unless HTTP Basic carries them. ``scope`` is refused
    (``invalid_scope``): the token carries the account's roles' permissions.

    Returns:
        ``200 {"access_token", "token_type": "Bearer", "expires_in"}``; no
        refresh token (RFC 6749 §4.4.3).

    Raises:
        InvalidRequest: not a form body, ``grant_type`` missing, a repeated
            parameter, or both Basic and ``client_secret`` (RFC 6749 §2.3).
        UnsupportedGrantType: any grant type but ``client_credentials``.
        InvalidScope: a non-empty ``scope``.
        InvalidClient: no, unknown or wrong client credentials (401).
    """
    if request.mimetype != FORM:
        raise InvalidRequest(f"The token request must be form-encoded (Content-Type: {FORM}).")
    form = request.form
    grant_type = _single(form, "grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required.")
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType()
    basic = _basic_credentials()
    form_id, form_secret = _single(form, "client_id"), _single(form, "client_secret")
    if basic is not None:
        if form_secret is not None:
            raise InvalidRequest("Use one client authentication method: HTTP Basic or client_secret in the form.")
        if form_id is not None and form_id != basic[0]:
            raise InvalidRequest("client_id in the form differs from the one in HTTP Basic.")
        client_id, secret = basic
    else:
        client_id, secret = form_id, form_secret
    if _single(form, "scope"):
        raise InvalidScope()
    if not client_id or not secret:
        raise InvalidClient("Client authentication is required: HTTP Basic, or client_id and client_secret.")
    state = current_authgw()
    issued = (issue_client_token(client_id, secret, state.key_set, state.settings)
              if len(secret) <= MAX_CLIENT_SECRET_LENGTH else None)
    if issued is None:
        record_event("client_authentication_failed", client_id=client_id[:MAX_CLIENT_ID_LENGTH],
                     method="client_secret_basic" if basic is not None else "client_secret_post")
        db.session.commit()
        raise InvalidClient()
    access_token, expires_in = issued
    return jsonify(access_token=access_token, token_type="Bearer", expires_in=expires_in)


@bp.get("/.well-known/oauth-authorization-server")
@public
@no_database
def authorization_server_metadata():
    """RFC 8414 §2 metadata of this authorization server.

    Only what is true is said: the one grant a third party can use is
    ``client_credentials`` (the browser sign-in is not an OAuth
    authorization endpoint for other clients), so there is no
    ``authorization_endpoint`` and ``response_types_supported`` is empty.
    """
    settings = current_authgw().settings
    response = jsonify(
        issuer=settings.jwt_issuer,
        token_endpoint=f"{settings.public_url}{TOKEN_PATH}",
        jwks_uri=f"{settings.public_url}/.well-known/jwks.json",
        grant_types_supported=list(GRANT_TYPES),
        token_endpoint_auth_methods_supported=list(AUTH_METHODS),
        response_types_supported=[],
        service_documentation=f"{settings.public_url}/api/docs",
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
