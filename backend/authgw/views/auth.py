"""``/api/auth/*``: browser login, token refresh, logout, sessions, and
local accounts (register, password sign-in) when ``PASSWORD_LOGIN=on``.

Shapes, status codes and cookies are docs/interface.md's ("Browser login",
"Tokens", "Protected API") and docs/local-accounts.md's.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, redirect, request
from werkzeug.exceptions import UnsupportedMediaType

from ..accounts import authenticate_local, normalise_email, provision_user, register_local_account
from ..audit import record_event
from ..bearer import bearer_token_from_request, public, verify_token_in_request
from ..bulkhead import no_database
from ..clock import rfc3339
from ..exceptions import (AccountDisabled, InsufficientScope, InvalidGrant, InvalidRequest, LoginFailed, NotAllowed,
                          NotFound, OriginRejected, TokenInvalid)
from ..extensions import db, limiter
from ..models import Session
from ..oidc import authorization_url, complete_login
from ..redirects import safe_next_path
from ..extension import current_authgw
from ..schemas import PasswordLogin, PasswordRegister, parse
from ..service_accounts import is_client_subject
from ..sessions import (MAX_REFRESH_TOKEN_LENGTH, find_session_by_refresh_token, grant_for_session, live_sessions,
                        open_session, revoke_session, revoke_user_sessions, rotate_refresh_token)
from ..tokens import mint_access_token

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/api/auth")

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/auth"
MAX_LOGIN_HINT_LENGTH = 254
#: Failed password sign-ins allowed per account, whatever the client's
#: address (docs/local-accounts.md "Guessing"); successes do not count.
PASSWORD_FAILURES_PER_ACCOUNT = "5 per minute;20 per hour"


def _settings():
    return current_authgw().settings


def _client_ip() -> str:
    return (request.remote_addr or "")[:45]


def _mint(grant) -> tuple[str, int]:
    state = current_authgw()
    return mint_access_token(grant, state.key_set, state.settings)


def _set_refresh_cookie(response: Response, raw: str) -> None:
    settings = _settings()
    response.set_cookie(REFRESH_COOKIE, raw, max_age=settings.refresh_token_ttl, path=REFRESH_COOKIE_PATH,
                        secure=settings.secure_cookies, httponly=True, samesite="Strict")


def _clear_refresh_cookie(response: Response) -> None:
    settings = _settings()
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=settings.secure_cookies,
                           httponly=True, samesite="Strict")


def _signed_out() -> Response:
    """``204`` that clears the refresh cookie (logout answers)."""
    response = Response(status=204)
    _clear_refresh_cookie(response)
    return _no_store(response)


def _start_session(user, method: str):
    """Open a session for a signed-in ``user`` and commit it with its
    ``login_succeeded`` event: what every sign-in (provider or password)
    does. Returns ``(session_row, refresh_token_raw)``."""
    session_row, refresh_raw = open_session(user, user_agent=request.user_agent.string, ip=_client_ip(),
                                            ttl=_settings().refresh_token_ttl)
    record_event("login_succeeded", user_id=user.id, email=user.email, session_id=session_row.id, method=method)
    db.session.commit()
    return session_row, refresh_raw


def _user_id(claims: dict) -> int:
    """The user id of a user's access token; a service account's token has
    no sessions to list or end (403)."""
    if "client_id" in claims or is_client_subject(claims["sub"]):
        raise InsufficientScope("A service account has no sessions.")
    return int(claims["sub"])


def _names_json_over_html(accept) -> bool:
    """Whether an ``Accept`` header (werkzeug ``MIMEAccept``) asks for JSON
    rather than a redirect: it names ``application/json`` itself (not through
    ``*/*``) with a higher quality than ``text/html`` itself. A browser's
    navigation names ``text/html`` first (a redirect); ``application/json``
    alone or an HTTP library's ``application/json, text/plain, */*`` get JSON.
    """
    def quality(mimetype: str) -> float:
        return max((q for value, q in accept if value.lower() == mimetype), default=0)

    return quality("application/json") > quality("text/html")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/login")
@public
@no_database
@limiter.limit(lambda: _settings().ratelimit_login)
def login():
    """Start the OpenID Connect authorization code flow (302 to the provider)."""
    settings = _settings()
    next_path = safe_next_path(request.args.get("next"))
    hint = request.args.get("login_hint")
    if hint is not None and (len(hint) > MAX_LOGIN_HINT_LENGTH or not hint.isprintable()):
        hint = None
    wants_json = _names_json_over_html(request.accept_mimetypes)
    try:
        url = authorization_url(settings, next_path, hint)
    except LoginFailed as failure:
        log.warning("login start failed: %s", failure.reason)
        if wants_json:
            return _no_store(jsonify(error="provider_error", error_description="The identity provider is unreachable.")), 502
        return _login_error_redirect(failure.code)
    if wants_json:
        return _no_store(jsonify(authorization_url=url))
    return _no_store(redirect(url, 302))


def _login_error_redirect(code: str) -> Response:
    response = redirect(f"{_settings().public_url}/login?{urlencode({'error': code})}", 303)
    response.headers["Referrer-Policy"] = "no-referrer"
    return _no_store(response)


@bp.get("/callback")
@public
@limiter.limit(lambda: _settings().ratelimit_login)
def callback():
    """Finish the login: 303 to ``/auth/callback#access_token=...`` or ``/login?error=``."""
    settings = _settings()
    email = None
    try:
        claims, next_path = complete_login()
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        user = provision_user(settings, claims)
        session_row, refresh_raw = _start_session(user, "openid")
    except LoginFailed as failure:
        db.session.rollback()
        log.info("login failed: %s", failure.code)
        record_event("login_failed", email=email, reason=failure.code, detail=failure.reason[:200])
        db.session.commit()
        return _login_error_redirect(failure.code)
    token, expires_in = _mint(grant_for_session(session_row))
    fragment = urlencode({"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "next": next_path})
    response = redirect(f"{settings.public_url}/auth/callback#{fragment}", 303)
    response.headers["Referrer-Policy"] = "no-referrer"
    _set_refresh_cookie(response, refresh_raw)
    return _no_store(response)


def _refresh_token_from_body() -> str | None:
    if not request.content_length and not request.data:
        return None
    if not request.is_json:
        raise UnsupportedMediaType("Send the refresh token as JSON: {\"refresh_token\": \"...\"}.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    raw = body.get("refresh_token")
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw or len(raw) > MAX_REFRESH_TOKEN_LENGTH:
        raise InvalidRequest("refresh_token must be a string of at most 256 characters.")
    return raw


def _require_same_origin() -> None:
    """Cookie-authenticated requests must come from our own pages (CSRF defence)."""
    if request.headers.get("Origin") != _settings().public_origin:
        raise OriginRejected("A cookie refresh needs an Origin header equal to the application's origin.")


@bp.post("/refresh")
@public
@limiter.limit(lambda: _settings().ratelimit_refresh)
def refresh():
    """Rotate a refresh token (cookie or JSON body) and issue an access token."""
    settings = _settings()
    body_token = _refresh_token_from_body()
    cookie_token = request.cookies.get(REFRESH_COOKIE)
    if body_token is None:
        if not cookie_token:
            raise InvalidGrant("No refresh token was presented.")
        _require_same_origin()
    grant, new_raw = rotate_refresh_token(body_token or cookie_token, ttl=settings.refresh_token_ttl,
                                          grace_seconds=settings.refresh_grace_seconds)
    token, expires_in = _mint(grant)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}
    if body_token is not None:
        body["refresh_token"] = new_raw
    response = jsonify(body)
    if body_token is None:
        _set_refresh_cookie(response, new_raw)
    return _no_store(response)


@bp.errorhandler(InvalidGrant)
def _invalid_grant(exc: InvalidGrant):
    # A refresh that failed on its cookie must also drop the dead cookie.
    response = exc.get_response()
    if request.endpoint == "auth.refresh" and request.cookies.get(REFRESH_COOKIE) and not request.is_json:
        _clear_refresh_cookie(response)
    return response


@bp.post("/logout")
@public
def logout():
    """Revoke the current session (identified by refresh cookie, body or access token); 204."""
    session_row = None
    body_token = _refresh_token_from_body()
    cookie_token = request.cookies.get(REFRESH_COOKIE)
    if body_token or cookie_token:
        if body_token is None and request.headers.get("Origin") not in (None, _settings().public_origin):
            # The SameSite=Strict cookie already stays home on cross-site
            # requests; a foreign Origin is refused outright.
            raise OriginRejected("A cookie logout from another origin is refused.")
        session_row = find_session_by_refresh_token(body_token or cookie_token)
    if session_row is None and bearer_token_from_request():
        try:
            claims = verify_token_in_request()
        except TokenInvalid:
            claims = None
        if claims:
            session_row = db.session.get(Session, claims["sid"])
    if session_row is not None and revoke_session(session_row, reason="logout"):
        record_event("logout", user_id=session_row.user_id, session_id=session_row.id)
        db.session.commit()
    return _signed_out()


@bp.post("/logout-all")
def logout_all():
    """Revoke every session of the caller; 204."""
    claims = verify_token_in_request()
    user_id = _user_id(claims)
    count = revoke_user_sessions(user_id, reason="logout_all")
    record_event("logout_all", user_id=user_id, sessions=count)
    db.session.commit()
    return _signed_out()


@bp.get("/sessions")
def list_sessions():
    """``200 {"sessions": [{"id", "created_at", "last_used_at", "user_agent", "ip", "current"}]}``."""
    claims = verify_token_in_request()
    rows = live_sessions(_user_id(claims))
    return _no_store(jsonify(sessions=[{
        "id": row.id,
        "created_at": rfc3339(row.created_at),
        "last_used_at": rfc3339(row.last_used_at),
        "user_agent": row.user_agent,
        "ip": row.ip,
        "current": row.id == claims["sid"],
    } for row in rows]))


@bp.delete("/sessions/<session_id>")
def delete_session(session_id: str):
    """Revoke one of the caller's own sessions; another user's id is 404."""
    claims = verify_token_in_request()
    row = db.session.execute(
        sa.select(Session).where(Session.id == session_id[:43], Session.user_id == _user_id(claims))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        raise NotFound("No such session.")
    revoke_session(row, reason="revoked_by_user")
    record_event("session_revoked", user_id=row.user_id, session_id=row.id, by="user")
    db.session.commit()
    return Response(status=204)


# -- local accounts (PASSWORD_LOGIN=on, docs/local-accounts.md) -----------------


def _require_password_login() -> None:
    if not _settings().password_login:
        raise NotFound("Password sign-in is not enabled here.")


def _json_object() -> dict:
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object (Content-Type: application/json).")
    return body


def _account_key() -> str:
    """Rate-limit key of a password sign-in: the account's email, not the address."""
    body = request.get_json(silent=True) if request.is_json else None
    email = body.get("email") if isinstance(body, dict) else None
    return "password-account:" + (normalise_email(email) or "-") if isinstance(email, str) else "password-account:-"


@bp.post("/register")
@public
@limiter.limit(lambda: _settings().ratelimit_login)
def register():
    """``{"email", "password", "name"}`` → ``201`` the new account (``/api/me``'s shape).

    Errors: ``400 invalid_request`` (why, in words), ``403 not_allowed``
    (allowlist), ``409 conflict`` (the email has an account), ``404`` when
    ``PASSWORD_LOGIN`` is off.
    """
    _require_password_login()
    body = parse(PasswordRegister, _json_object())
    user = register_local_account(_settings(), body.email, body.password, body.name)
    db.session.commit()
    return _no_store(jsonify(id=str(user.id), email=user.email, name=user.name, picture=None,
                             roles=user.role_names, permissions=user.permission_names)), 201


@bp.post("/login/password")
@public
@limiter.limit(lambda: _settings().ratelimit_login)
@limiter.limit(PASSWORD_FAILURES_PER_ACCOUNT, key_func=_account_key, deduct_when=lambda r: r.status_code == 401)
def password_login():
    """``{"email", "password"}`` with our ``Origin`` → ``200 {"access_token",
    "token_type", "expires_in"}`` and the refresh cookie: a session opened
    as the provider callback opens one.

    Errors: ``401 invalid_grant`` for a wrong password and an unknown email
    alike, ``403`` (foreign ``Origin``, ``not_allowed``,
    ``account_disabled``), ``429`` after repeated failures for the account,
    ``404`` when ``PASSWORD_LOGIN`` is off.
    """
    _require_password_login()
    if request.headers.get("Origin") != _settings().public_origin:
        raise OriginRejected("A password sign-in needs an Origin header equal to the application's origin.")
    body = parse(PasswordLogin, _json_object())
    try:
        user = authenticate_local(_settings(), body.email, body.password)
    except (InvalidGrant, NotAllowed, AccountDisabled) as failure:
        db.session.rollback()
        record_event("login_failed", email=normalise_email(body.email), reason=failure.error, method="password")
        db.session.commit()
        raise
    session_row, refresh_raw = _start_session(user, "password")
    token, expires_in = _mint(grant_for_session(session_row))
    response = jsonify(access_token=token, token_type="Bearer", expires_in=expires_in)
    _set_refresh_cookie(response, refresh_raw)
    return _no_store(response)
