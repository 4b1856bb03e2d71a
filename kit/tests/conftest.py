"""Fixtures of the kit's tests: the shared corpus, its keys, a movable clock."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from authgw_kit import RevocationList, StaticKeys, TokenVerifier

CORPUS_FILE = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "corpus.json"


class Clock:
    """Unix seconds that tests move by hand."""

    def __init__(self, now: float):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def corpus() -> dict:
    return json.loads(CORPUS_FILE.read_text())


@pytest.fixture(scope="session")
def private_keys(corpus) -> dict:
    return {k["kid"]: serialization.load_pem_private_key(k["private_pem"].encode(), password=None)
            for k in corpus["keys"]}


@pytest.fixture
def clock(corpus) -> Clock:
    return Clock(corpus["now"])


@pytest.fixture
def claims(corpus):
    """Build the claims of a valid token, with changes."""

    def build(**changes) -> dict:
        now = corpus["now"]
        out = {"iss": corpus["issuer"], "aud": corpus["audience"], "sub": "7", "iat": now - 10,
               "exp": now + 890, "jti": "jti-1", "sid": "sid-1", "email": "a@example.test", "name": "A",
               "roles": ["user"], "permissions": ["notes:read"]}
        out.update(changes)
        return out

    return build


@pytest.fixture
def mint(private_keys, claims):
    """Sign a token with a corpus key (default the published ES256 one)."""

    def sign(kid: str = "corpus-es256", headers: dict | None = None, **changes) -> str:
        alg = "RS256" if "rs256" in kid else "ES256"
        return jwt.encode(claims(**changes), private_keys[kid], algorithm=alg,
                          headers={"kid": kid, "typ": "at+jwt", **(headers or {})})

    return sign


@pytest.fixture
def feed(corpus):
    """A mutable revocation snapshot and a fetch callable returning it (or failing)."""

    class Feed:
        def __init__(self):
            self.snapshot = json.loads(json.dumps(corpus["revocations"]))
            self.failing = False
            self.calls = 0

        def __call__(self):
            self.calls += 1
            if self.failing:
                raise ConnectionError("feed down")
            return self.snapshot

    return Feed()


@pytest.fixture
def monotonic():
    return Clock(1000.0)


@pytest.fixture
def verifier(corpus, clock, feed, monotonic) -> TokenVerifier:
    revocations = RevocationList(fetch=feed, background=False, clock=monotonic)
    return TokenVerifier(issuer=corpus["issuer"], audience=corpus["audience"],
                         keys=StaticKeys(corpus["jwks"], algorithms=corpus["algorithms"]),
                         revocations=revocations, clock=clock)


@pytest.fixture
def http_server():
    from .http_fixture import JSONServer

    server = JSONServer()
    yield server
    server.close()
