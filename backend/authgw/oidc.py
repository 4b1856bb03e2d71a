"""OpenID Connect relying party (authorization code flow with PKCE).

The provider (Google, the dev IdP, or any conforming OpenID provider) is
registered with Authlib from its discovery document. Authlib keeps
``state``, ``nonce`` and the PKCE ``code_verifier`` in the login-state
cookie, exchanges the code and verifies the ID token (signature through the
provider's JWK Set, ``iss``, ``aud``, ``exp``, ``nonce``; OpenID Connect
Core §3.1.3.7). Every failure becomes a ``LoginFailed`` with one of
docs/interface.md's codes; none escapes as a 500.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import request, session
from joserfc.errors import JoseError

from .clock import utcnow
from .config import Settings
from .exceptions import LoginFailed
from .extension import current_authgw

log = logging.getLogger(__name__)

PROVIDER = "oidc"
SCOPE = "openid email profile"
#: Seconds of clock skew allowed on the ID token's ``exp``/``iat``.
ID_TOKEN_LEEWAY = 60
_BACKCHANNEL_ENDPOINTS = ("token_endpoint", "jwks_uri", "userinfo_endpoint")
#: Unfinished logins (tabs, retries) the login-state cookie remembers at once.
MAX_PENDING_LOGINS = 4


class OpenIDProvider:
    """The OpenID provider of one application, registered with Authlib.

    Each application gets its own Authlib ``OAuth`` registry (so an app built
    after another in the same process never inherits its client or cached
    metadata). The discovery document is fetched on the first login, with
    ``OIDC_HTTP_TIMEOUT`` seconds (docs/configuration.md); a failure is retried at the next login. With a
    back-channel URL (compose: the browser reaches the dev IdP at
    ``localhost:9000``, the backend at ``dev-idp:9000``) the discovery,
    token, JWKS and userinfo requests go to that origin while the issuer
    (and so the ``iss`` check) stays the browser-facing one.

    Args:
        settings: validated settings (client id and secret, discovery URL,
            ``oidc_backchannel_url``).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._oauth = OAuth()
        self._client = None
        self._lock = threading.Lock()

    def init_app(self, app) -> None:
        """Bind the Authlib registry to ``app`` (login state in its session)."""
        self._oauth.init_app(app)

    def client(self):
        """Return the Authlib client, registering it on first use.

        Raises:
            LoginFailed(provider_error): the discovery document is unreachable
                or not an OpenID provider's.
        """
        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None:
                metadata = self._discover()
                self._oauth.register(
                    name=PROVIDER,
                    client_id=self.settings.oidc_client_id,
                    client_secret=self.settings.oidc_client_secret,
                    client_kwargs={"scope": SCOPE, "code_challenge_method": "S256",
                                   "default_timeout": self.settings.oidc_http_timeout},
                    **metadata,
                )
                self._client = self._oauth.create_client(PROVIDER)
        return self._client

    def _discover(self) -> dict:
        settings = self.settings
        url = settings.oidc_discovery_url
        if settings.oidc_backchannel_url:
            url = _on_origin(url, settings.oidc_backchannel_url)
        try:
            response = requests.get(url, timeout=settings.oidc_http_timeout, headers={"Accept": "application/json"})
            response.raise_for_status()
            metadata = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise LoginFailed("provider_error", f"discovery failed: {exc.__class__.__name__}") from None
        if not isinstance(metadata, dict) or not all(
                isinstance(metadata.get(name), str) for name in ("issuer", "authorization_endpoint", "token_endpoint",
                                                                  "jwks_uri")):
            raise LoginFailed("provider_error", "discovery document lacks issuer or endpoints")
        if settings.oidc_backchannel_url:
            for name in _BACKCHANNEL_ENDPOINTS:
                if isinstance(metadata.get(name), str):
                    metadata[name] = _on_origin(metadata[name], settings.oidc_backchannel_url)
        # Only metadata members: Authlib reads them as server metadata.
        return {key: value for key, value in metadata.items() if key not in _AUTHLIB_ARGUMENTS}


#: Names that Authlib's ``register`` takes as its own arguments, not metadata.
_AUTHLIB_ARGUMENTS = frozenset({"name", "client_id", "client_secret", "client_kwargs", "server_metadata_url",
                                "access_token_url", "authorize_url", "api_base_url", "overwrite"})


def _on_origin(url: str, origin_url: str) -> str:
    """``url`` with its scheme and host:port replaced by those of ``origin_url``."""
    origin = urlsplit(origin_url)
    return urlunsplit(urlsplit(url)._replace(scheme=origin.scheme, netloc=origin.netloc))


def provider() -> OpenIDProvider:
    """The provider of the current application (``create_app`` makes it)."""
    return current_authgw().provider


def _next_key(state: str) -> str:
    return f"_next_{state}"


def _forget_oldest_pending_logins(keep: int) -> None:
    """Drop all but the ``keep`` newest unfinished logins from the login-state cookie.

    Every started login adds its state, nonce and PKCE verifier to the
    cookie; without a bound, about 17 unfinished logins push it past the
    4 KB browsers accept, the browser keeps its old cookie, and every later
    callback fails with ``invalid_state`` until that cookie expires.
    """
    prefix = f"_state_{PROVIDER}_"
    pending = [key for key in session.keys() if key.startswith(prefix)]
    pending.sort(key=lambda key: session[key].get("exp", 0) if isinstance(session[key], dict) else 0)
    for key in pending[:max(0, len(pending) - keep)]:
        session.pop(key, None)
        session.pop(_next_key(key[len(prefix):]), None)


def forget_finished_logins(now: float) -> None:
    """Drop expired logins from the login-state cookie; clear it when no login
    is pending (an empty session makes Flask delete the cookie).

    Args:
        now: Unix time, seconds.
    """
    prefix = f"_state_{PROVIDER}_"
    for key in [k for k in session.keys() if k.startswith(prefix) or k.startswith("_next_")]:
        value = session.get(key)
        if isinstance(value, dict) and value.get("exp", 0) < now:
            session.pop(key, None)
    if not any(k.startswith(prefix) for k in session.keys()):
        session.clear()


def authorization_url(settings: Settings, next_path: str, login_hint: str | None) -> str:
    """Start a login: remember state, nonce, PKCE verifier and ``next``.

    Args:
        settings: validated settings (redirect URI).
        next_path: local path to return to, already validated.
        login_hint: email to preselect at the provider (OpenID Connect Core
            §3.1.2.1), or None.

    Returns:
        str: the provider's authorization URL to redirect the browser to.

    Raises:
        LoginFailed(provider_error): discovery document unreachable or bad.
    """
    client = provider().client()
    extra = {"login_hint": login_hint} if login_hint else {}
    try:
        rv = client.create_authorization_url(settings.redirect_uri, **extra)
    except (requests.RequestException, AuthlibBaseError, ValueError, KeyError, RuntimeError) as exc:
        raise LoginFailed("provider_error", f"discovery failed: {exc.__class__.__name__}") from None
    _forget_oldest_pending_logins(keep=MAX_PENDING_LOGINS - 1)
    client.save_authorize_data(redirect_uri=settings.redirect_uri, **rv)
    session[_next_key(rv["state"])] = next_path
    session.permanent = True  # bounded by PERMANENT_SESSION_LIFETIME
    return rv["url"]


def complete_login() -> tuple[dict, str]:
    """Finish a login at the callback: check state, exchange the code,
    verify the ID token. Whatever the outcome, expired and finished logins
    leave the login-state cookie (``forget_finished_logins``).

    Returns:
        (claims, next_path): the verified ID token claims and the local path
        remembered at login.

    Raises:
        LoginFailed: ``access_denied`` (the user declined), ``invalid_state``
            (missing, unknown or replayed state), ``invalid_id_token``
            (signature, ``iss``, ``aud``, ``exp``, ``nonce`` or missing ID
            token), ``provider_error`` (any other provider or network error).
    """
    try:
        return _complete_login()
    finally:
        forget_finished_logins(utcnow().timestamp())


def _complete_login() -> tuple[dict, str]:
    state = request.args.get("state") or ""
    next_path = session.pop(_next_key(state), "/") if state else "/"
    error = request.args.get("error")
    if error:
        _clear_login_state(state)
        code = "access_denied" if error == "access_denied" else "provider_error"
        raise LoginFailed(code, f"provider answered error={error[:64]}")
    if not state or not request.args.get("code"):
        raise LoginFailed("invalid_state", "callback without state or code")
    client = provider().client()
    try:
        issuer = client.load_server_metadata().get("issuer")
        if not issuer:
            raise ValueError("discovery document without issuer")
        # OpenID Connect Core §3.1.3.7 steps 2-3: ``iss`` is the provider's and
        # ``aud`` contains our client id. Authlib checks ``aud`` only through
        # ``azp``, so an ID token for another client carrying our ``azp``
        # would pass without this.
        claims_options = {"iss": {"essential": True, "value": issuer},
                          "aud": {"essential": True, "value": client.client_id}}
        token = client.authorize_access_token(leeway=ID_TOKEN_LEEWAY, claims_options=claims_options)
    except MismatchingStateError:
        raise LoginFailed("invalid_state", "unknown or reused state") from None
    except OAuthError as exc:
        raise LoginFailed("provider_error", f"token endpoint: {exc.error}") from None
    except (JoseError, AuthlibBaseError) as exc:
        raise LoginFailed("invalid_id_token", f"ID token rejected: {exc.__class__.__name__}") from None
    except (requests.RequestException, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise LoginFailed("provider_error", f"provider exchange failed: {exc.__class__.__name__}") from None
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        raise LoginFailed("invalid_id_token", "no ID token in the token response")
    claims = dict(claims)
    claims.setdefault("iss", client.load_server_metadata().get("issuer"))
    return claims, next_path


def _clear_login_state(state: str) -> None:
    session.pop(f"_state_{PROVIDER}_{state}", None)
