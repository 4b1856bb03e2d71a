"""OpenID Connect relying party (authorization code flow with PKCE).

The provider (Google, the dev IdP, or any conforming OpenID provider) is
registered with Authlib from its discovery document. Authlib keeps
``state``, ``nonce`` and the PKCE ``code_verifier`` in the login-state
cookie, exchanges the code and verifies the ID token (signature through the
provider's JWK Set, ``iss``, ``aud``, ``exp``, ``nonce``; OpenID Connect
Core §3.1.3.7). Every failure becomes a ``LoginFailed`` with one of
CONTRACT.md's codes; none escapes as a 500.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from flask import request, session
from joserfc.errors import JoseError

from .config import Settings
from .exceptions import LoginFailed
from .extensions import oauth

log = logging.getLogger(__name__)

PROVIDER = "oidc"
SCOPE = "openid email profile"
#: Seconds of clock skew allowed on the ID token's ``exp``/``iat``.
ID_TOKEN_LEEWAY = 60
#: Seconds to wait for the provider (discovery, token and JWKS endpoints).
PROVIDER_TIMEOUT = 10
_BACKCHANNEL_ENDPOINTS = ("token_endpoint", "jwks_uri", "userinfo_endpoint")
#: Unfinished logins (tabs, retries) the login-state cookie remembers at once.
MAX_PENDING_LOGINS = 4


def register_provider(settings: Settings) -> None:
    """Register the OpenID provider with Authlib (discovery is fetched lazily)."""
    # Authlib caches clients by name and ``register`` does not replace a
    # cached one: without this, an app created after another in the same
    # process would keep the first app's client id, secret, discovery URL
    # and cached provider metadata and JWK Set.
    oauth._clients.pop(PROVIDER, None)
    oauth.register(
        name=PROVIDER,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_discovery_url,
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "default_timeout": PROVIDER_TIMEOUT},
        overwrite=True,
    )
    client = oauth.create_client(PROVIDER)
    if settings.oidc_backchannel_url:
        _use_backchannel(client, settings.oidc_backchannel_url)


def _use_backchannel(client, backchannel_url: str) -> None:
    """Reach the provider's server-to-server endpoints at ``backchannel_url``.

    In compose the browser reaches the dev IdP at ``localhost:9000`` while the
    backend container reaches it as ``dev-idp:9000``. The issuer (and so the
    ``iss`` check) stays the browser-facing URL; only the origin of the
    discovery, token, JWKS and userinfo requests is replaced.
    """
    internal = urlsplit(backchannel_url)
    original_metadata_url = client._server_metadata_url
    client._server_metadata_url = urlunsplit(urlsplit(original_metadata_url)._replace(scheme=internal.scheme, netloc=internal.netloc))
    original_load = client.load_server_metadata

    def load_server_metadata():
        metadata = original_load()
        for name in _BACKCHANNEL_ENDPOINTS:
            if name in metadata:
                metadata[name] = urlunsplit(urlsplit(metadata[name])._replace(scheme=internal.scheme, netloc=internal.netloc))
        return metadata

    client.load_server_metadata = load_server_metadata


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
    client = oauth.create_client(PROVIDER)
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
    verify the ID token.

    Returns:
        (claims, next_path): the verified ID token claims and the local path
        remembered at login.

    Raises:
        LoginFailed: ``access_denied`` (the user declined), ``invalid_state``
            (missing, unknown or replayed state), ``invalid_id_token``
            (signature, ``iss``, ``aud``, ``exp``, ``nonce`` or missing ID
            token), ``provider_error`` (any other provider or network error).
    """
    state = request.args.get("state") or ""
    next_path = session.pop(_next_key(state), "/") if state else "/"
    error = request.args.get("error")
    if error:
        _clear_login_state(state)
        code = "access_denied" if error == "access_denied" else "provider_error"
        raise LoginFailed(code, f"provider answered error={error[:64]}")
    if not state or not request.args.get("code"):
        raise LoginFailed("invalid_state", "callback without state or code")
    client = oauth.create_client(PROVIDER)
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
