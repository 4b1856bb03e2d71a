"""A fake OpenID provider served through ``requests``, and token helpers.

``FakeProvider`` answers the discovery document, the JWK Set and the token
endpoint like Google would, and signs ID tokens with its own test key. The
test plays the browser and the user: it calls ``/api/auth/login``, reads the
authorization URL, has the provider ``authorize`` (which returns a code
bound to the request's nonce, PKCE challenge and redirect URI) and then
calls ``/api/auth/callback``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

#: Marker for "leave this claim out of the ID token".
OMIT = object()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@dataclass
class PendingCode:
    nonce: str
    code_challenge: str
    redirect_uri: str
    claims: dict
    sign_with: object | None
    kid: str | None
    used: bool = False


@dataclass
class FakeProvider:
    client_id: str
    client_secret: str
    issuer: str = "https://idp.test"
    key: object = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    kid: str = "idp-key-1"
    #: None: normal; an int: the token endpoint answers this status with an
    #: error body; "unreachable": the token endpoint refuses connections.
    token_endpoint_failure: object = None
    discovery_unreachable: bool = False

    def __post_init__(self):
        self.codes: dict[str, PendingCode] = {}
        self.token_requests: list[dict] = []
        self._counter = 0

    # -- the user's side ---------------------------------------------------

    def authorize(self, authorization_url: str, *, sign_with=None, kid: str | None = None, **claims) -> str:
        """Consent at the authorization endpoint; return the code.

        ``claims`` override ID token claims (``OMIT`` removes one); the
        ``nonce`` claim defaults to the one of the authorization request.
        ``sign_with``: another private key, or ``"none"`` for an unsigned token.
        """
        parts = urlsplit(authorization_url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{self.issuer}/authorize", authorization_url
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self._counter += 1
        code = f"code-{self._counter}"
        self.codes[code] = PendingCode(nonce=query["nonce"], code_challenge=query["code_challenge"],
                                       redirect_uri=query["redirect_uri"], claims=claims, sign_with=sign_with, kid=kid)
        return code

    def id_token(self, pending: PendingCode) -> str:
        now = int(time.time())
        email = pending.claims.get("email", "alice@example.test")
        claims = {
            "iss": self.issuer,
            "sub": "sub-" + hashlib.sha256(str(email).encode()).hexdigest()[:16],
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": now,
            "exp": now + 3600,
            "nonce": pending.nonce,
            "email": email,
            "email_verified": True,
            "name": "Alice Example",
            "picture": "https://images.example.test/alice.png",
        }
        claims.update(pending.claims)
        claims = {k: v for k, v in claims.items() if v is not OMIT}
        if pending.sign_with == "none":
            return f"{b64url_json({'alg': 'none', 'kid': pending.kid or self.kid})}.{b64url_json(claims)}."
        return jwt.encode(claims, pending.sign_with or self.key, algorithm="ES256",
                          headers={"kid": pending.kid or self.kid})

    # -- the provider's HTTP endpoints -------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwks(self) -> dict:
        jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "ES256", "use": "sig"})
        return {"keys": [jwk]}

    def token(self, request: requests.PreparedRequest):
        if self.token_endpoint_failure == "unreachable":
            raise requests.ConnectionError("token endpoint unreachable")
        if isinstance(self.token_endpoint_failure, int):
            return self.token_endpoint_failure, {"error": "server_error"}
        form = {k: v[0] for k, v in parse_qs(request.body if isinstance(request.body, str)
                                             else (request.body or b"").decode()).items()}
        self.token_requests.append(form)
        if not self._client_authenticated(request, form):
            return 401, {"error": "invalid_client"}
        pending = self.codes.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code" or pending is None or pending.used:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != pending.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != pending.code_challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        pending.used = True
        return 200, {"access_token": "provider-access-token", "token_type": "Bearer", "expires_in": 3599,
                     "scope": "openid email profile", "id_token": self.id_token(pending)}

    def _client_authenticated(self, request, form) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id"), form.get("client_secret")
        return client_id == self.client_id and secret == self.client_secret

    def handle(self, request: requests.PreparedRequest):
        parts = urlsplit(request.url)
        path = parts.path
        if request.method == "GET" and path == "/.well-known/openid-configuration":
            if self.discovery_unreachable:
                raise requests.ConnectionError("discovery unreachable")
            return 200, self.discovery()
        if request.method == "GET" and path == "/jwks":
            return 200, self.jwks()
        if request.method == "POST" and path == "/token":
            return self.token(request)
        return 404, {"error": "not_found"}


def install_fake_http(monkeypatch, provider: FakeProvider) -> None:
    """Route every ``requests`` call to ``provider``; any other host is unreachable."""

    def send(adapter, request, **kwargs):
        if not request.url.startswith(provider.issuer + "/"):
            raise requests.ConnectionError(f"network access in unit tests: {request.url}")
        status, body = provider.handle(request)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
