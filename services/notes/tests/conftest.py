"""Fixtures of the notes unit tests: an app on SQLite migrated by the real
Alembic migrations, a throwaway ES256 key, and a token factory.

The kit verifies tokens with static keys and an in-process revocation
snapshot (no HTTP); everything else is the production code path.
"""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from authgw_kit import RevocationList, StaticKeys, TokenVerifier

from notes import create_app
from notes.database import upgrade

ISSUER = "http://localhost:8080"
AUDIENCE = "api"
KID = "test-key-1"


class Revocations:
    """A revocation feed the test can change: ``revocations.sessions[sid] = time.time()``."""

    def __init__(self):
        self.sessions: dict[str, float] = {}
        self.subjects: dict[str, float] = {}
        self.roles: dict[str, float] = {}
        self.failing = False

    def __call__(self) -> dict:
        if self.failing:
            raise ConnectionError("feed down")
        return {"generated_at": time.time(), "window": 930, "sessions": dict(self.sessions),
                "subjects": dict(self.subjects), "roles": dict(self.roles)}


@pytest.fixture(scope="session")
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def jwks(signing_key):
    jwk = json.loads(ECAlgorithm.to_jwk(signing_key.public_key()))
    jwk.update(kid=KID, alg="ES256", use="sig")
    return {"keys": [jwk]}


@pytest.fixture
def make_token(signing_key):
    def make(sub: str = "1", permissions=("notes:read", "notes:write"), *, sid: str | None = None,
             key=None, kid: str = KID, headers: dict | None = None, **claims) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 900,
                   "jti": uuid.uuid4().hex, "sid": sid or f"sid-{sub}", "email": f"user{sub}@example.com",
                   "name": f"User {sub}", "roles": ["user"], "permissions": list(permissions)}
        payload.update(claims)
        header = {"typ": "at+jwt", "kid": kid, **(headers or {})}
        return jwt.encode(payload, key or signing_key, algorithm="ES256", headers=header)

    return make


@pytest.fixture
def revocations():
    return Revocations()


@pytest.fixture
def settings_env(tmp_path):
    return {
        "NOTES_DATABASE_URL": f"sqlite:///{tmp_path / 'notes.db'}",
        "AUTHGW_ISSUER": ISSUER,
        "AUTHGW_AUDIENCE": AUDIENCE,
        "AUTHGW_JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",
        "AUTHGW_REVOCATIONS_URL": "http://127.0.0.1:9/api/internal/revocations",
    }


@pytest.fixture
def app(settings_env, jwks, revocations):
    upgrade(settings_env["NOTES_DATABASE_URL"])
    feed = RevocationList(fetch=revocations, background=False)
    feed.refresh_now()
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=StaticKeys(jwks), revocations=feed,
                             cache_size=0)
    app = create_app(settings_env, verifier=verifier)
    app.config["TESTING"] = True
    app.extensions["test_feed"] = feed
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(make_token):
    """``auth("7")`` -> headers of a user with sub 7 holding notes:read and notes:write."""
    def headers(sub: str = "1", **kwargs) -> dict:
        return {"Authorization": f"Bearer {make_token(sub, **kwargs)}"}

    return headers
