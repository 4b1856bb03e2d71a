"""JWKSClient: fetched once, cached for max-age (bounded), one rate-limited re-fetch per unknown kid."""

from __future__ import annotations

import copy

import pytest

from authgw_kit import InvalidToken, JWKSClient, RevocationList, TokenVerifier, VerifierUnavailable
from authgw_kit.keys import cache_lifetime, keys_from_jwks


@pytest.fixture
def jwks_client(http_server, corpus, monotonic):
    http_server.serve("/jwks", {"keys": corpus["jwks"]["keys"][:1]}, headers={"Cache-Control": "max-age=120"})
    return JWKSClient(http_server.url("/jwks"), refetch_interval=5, clock=monotonic)


def test_set_is_fetched_once_and_kept_for_its_max_age(jwks_client, http_server, monotonic):
    assert jwks_client.get_key("corpus-es256").algorithm == "ES256"
    monotonic.advance(119)
    assert jwks_client.get_key("corpus-es256") is not None
    assert http_server.hits["/jwks"] == 1
    monotonic.advance(2)
    jwks_client.get_key("corpus-es256")
    assert http_server.hits["/jwks"] == 2


@pytest.mark.parametrize("header, expected", [
    ("max-age=120", 120), ("public, max-age=10", 60), ("max-age=999999", 3600), ("no-store", 60),
    ("no-cache, max-age=600", 60), (None, 300), ("private", 300), ('max-age="200"', 200),
])
def test_cache_lifetime_honours_max_age_within_bounds(header, expected):
    assert cache_lifetime(header, default=300, minimum=60, maximum=3600) == expected


def test_unknown_kid_triggers_one_refetch_then_is_rate_limited(jwks_client, http_server, monotonic):
    jwks_client.get_key("corpus-es256")
    monotonic.advance(6)
    for _ in range(50):
        assert jwks_client.get_key("made-up") is None
    assert http_server.hits["/jwks"] == 2  # initial + one re-fetch for the unknown kid
    monotonic.advance(5)
    jwks_client.get_key("made-up-2")
    assert http_server.hits["/jwks"] == 3


def test_rotated_key_is_found_without_restart(jwks_client, http_server, corpus, monotonic):
    assert jwks_client.get_key("corpus-rs256") is None  # fetched just now: no re-fetch yet
    generation = jwks_client.generation
    http_server.serve("/jwks", corpus["jwks"], headers={"Cache-Control": "max-age=120"})
    monotonic.advance(5)
    key = jwks_client.get_key("corpus-rs256")
    assert key is not None and key.algorithm == "RS256"
    assert jwks_client.generation == generation + 1


def test_failed_refresh_keeps_the_last_set(jwks_client, http_server, monotonic):
    jwks_client.get_key("corpus-es256")
    http_server.serve("/jwks", {"error": "down"}, status=500)
    monotonic.advance(200)
    assert jwks_client.get_key("corpus-es256") is not None
    assert http_server.hits["/jwks"] == 2
    monotonic.advance(1)  # retried only after refetch_interval
    jwks_client.get_key("corpus-es256")
    assert http_server.hits["/jwks"] == 2


def test_never_fetched_set_is_503(http_server, monotonic):
    client = JWKSClient(http_server.url("/missing"), clock=monotonic)
    with pytest.raises(VerifierUnavailable):
        client.get_key("corpus-es256")


def test_unreachable_server_times_out_as_503(monotonic):
    client = JWKSClient("http://127.0.0.1:9/jwks", http_timeout=0.5, clock=monotonic)
    with pytest.raises(VerifierUnavailable):
        client.get_key("x")


def test_unusable_keys_are_skipped(corpus):
    keys = copy.deepcopy(corpus["jwks"]["keys"])
    keys.append({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})
    keys.append({"kty": "EC", "kid": "broken", "crv": "P-256", "x": "AA", "y": "AA"})
    keys.append({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
    enc = dict(keys[0], kid="enc", use="enc")
    keys.append(enc)
    parsed = keys_from_jwks({"keys": keys}, algorithms=("ES256",))
    assert set(parsed) == {"corpus-es256"}
    with pytest.raises(ValueError):
        keys_from_jwks({"nokeys": []})


def test_get_signing_key_from_jwt(jwks_client, mint):
    assert jwks_client.get_signing_key_from_jwt(mint()).kid == "corpus-es256"



@pytest.mark.parametrize("cache_size", [0, 1000])
def test_withdrawn_key_is_refused_once_the_set_is_stale(jwks_client, http_server, corpus, clock, feed, monotonic,
                                                         mint, cache_size):
    """A key dropped from the JWK Set stops verifying once the set's
    max-age is over, for a token seen before (verdict and header caches)
    and for a new one, as the gateway refuses them after its next fetch."""
    verifier = TokenVerifier(issuer=corpus["issuer"], audience=corpus["audience"], keys=jwks_client,
                             revocations=RevocationList(fetch=feed, background=False, clock=monotonic),
                             clock=clock, cache_size=cache_size)
    seen = mint()
    assert verifier.verify(seen).claims["sub"] == "7"
    http_server.serve("/jwks", {"keys": []}, headers={"Cache-Control": "max-age=120"})
    monotonic.advance(60)
    assert verifier.verify(seen).claims["sub"] == "7"  # within max-age: the set in hand still counts
    assert http_server.hits["/jwks"] == 1
    monotonic.advance(61)
    for token in (seen, mint(jti="jti-new")):
        with pytest.raises(InvalidToken, match="unknown key"):
            verifier.verify(token)
    assert http_server.hits["/jwks"] == 2
