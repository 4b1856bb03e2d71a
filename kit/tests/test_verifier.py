"""TokenVerifier: strict checks, the Bearer header, the cache and its bounds."""

from __future__ import annotations

import base64

import pytest

from authgw_kit import (ExpiredToken, InvalidToken, MissingToken, StaticKeys, TokenVerifier, VerifiedToken,
                        VerifierUnavailable)
from authgw_kit.verify import unverified_header


def test_valid_token_gives_typed_accessors(verifier, mint):
    token = verifier.verify(mint(permissions=["notes:read", "notes:write"], roles=["user", "admin"]))
    assert isinstance(token, VerifiedToken)
    assert token.subject == "7" and token.session_id == "sid-1"
    assert token.roles == {"user", "admin"} and token.permissions == {"notes:read", "notes:write"}
    assert token.has_permission("notes:write") and not token.has_permission("users:write")
    assert not token.is_client and token.client_id is None
    assert token["email"] == "a@example.test" and dict(token)["sub"] == "7"


def test_machine_client_is_recognised_by_its_client_id(verifier, mint):
    token = verifier.verify(mint(sub="svc-1", client_id="svc-1"))
    assert token.is_client and token.client_id == "svc-1"


def test_expired_token_is_an_invalid_token_saying_expired(verifier, mint, clock):
    token = mint()
    clock.advance(890 + 31)
    with pytest.raises(ExpiredToken) as caught:
        verifier.verify(token)
    assert isinstance(caught.value, InvalidToken)
    assert caught.value.status == 401 and caught.value.error == "invalid_token"
    assert "expired" in caught.value.description


@pytest.mark.parametrize("segment", [b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe", b"[1]", b'"x"', b"nul"])
def test_hostile_header_json_is_invalid_token_even_beyond_the_size_limit(segment):
    token = base64.urlsafe_b64encode(segment).rstrip(b"=").decode() + ".e30.c2ln"
    with pytest.raises(InvalidToken):
        unverified_header(token)


def test_authorization_header_parsing(verifier, mint):
    token = mint()
    for value in (f"Bearer {token}", f"bearer {token}", f"BEARER  {token}"):
        assert verifier.verify_authorization_header(value).subject == "7"
    for value in (None, "", f"Basic {token}", "Token abc"):
        with pytest.raises(MissingToken) as caught:
            verifier.verify_authorization_header(value)
        assert caught.value.www_authenticate == 'Bearer realm="api"'
    for value in ("Bearer", "Bearer ", "Bearer a b"):
        with pytest.raises(InvalidToken):
            verifier.verify_authorization_header(value)


def test_cached_token_is_not_decoded_again(verifier, mint, monkeypatch):
    token = mint()
    verifier.verify(token)
    calls = []
    monkeypatch.setattr(verifier, "decode", lambda t: calls.append(t))
    assert verifier.verify(token).subject == "7"
    assert calls == []


def test_revocation_is_checked_on_a_cache_hit(verifier, mint, feed):
    token = mint(sid="sid-soon-revoked")
    verifier.verify(token)
    feed.snapshot["sessions"]["sid-soon-revoked"] = 1
    verifier.revocations.refresh_now()
    with pytest.raises(InvalidToken, match="revoked"):
        verifier.verify(token)


def test_cache_entry_never_outlives_exp(verifier, mint, clock):
    token = mint(exp=clock.now + 5)
    verifier.verify(token)
    clock.advance(6)  # past exp: the entry is gone, the leeway still accepts
    assert verifier.verify(token).subject == "7"
    clock.advance(30)  # past exp + leeway
    with pytest.raises(ExpiredToken):
        verifier.verify(token)


def test_cache_is_bounded(corpus, clock, feed, monotonic, mint):
    from authgw_kit import RevocationList

    small = TokenVerifier(issuer=corpus["issuer"], audience=corpus["audience"], keys=StaticKeys(corpus["jwks"]),
                          revocations=RevocationList(fetch=feed, background=False, clock=monotonic),
                          cache_size=3, clock=clock)
    for i in range(10):
        small.verify(mint(jti=f"j{i}"))
    assert len(small._cache) == 3


def test_key_change_invalidates_cached_tokens(verifier, mint):
    token = mint()
    verifier.verify(token)
    verifier.keys._keys.clear()  # the key was withdrawn from the JWK Set
    verifier.keys.generation += 1
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(token)


def test_non_string_token_is_invalid(verifier):
    for value in (None, b"a.b.c", 1, "\ud800.a.b", "a.b." + "c" * 10_000_000):
        with pytest.raises(InvalidToken):
            verifier.verify(value)


def test_feed_never_read_gives_503(corpus, clock, mint, monotonic):
    from authgw_kit import RevocationList

    def down():
        raise ConnectionError("no backend")

    v = TokenVerifier(issuer=corpus["issuer"], audience=corpus["audience"], keys=StaticKeys(corpus["jwks"]),
                      revocations=RevocationList(fetch=down, background=False, clock=monotonic), clock=clock)
    with pytest.raises(VerifierUnavailable) as caught:
        v.verify(mint())
    assert caught.value.status == 503 and caught.value.headers()["Retry-After"] == "5"


def test_constructor_and_from_env_list_every_problem():
    with pytest.raises(ValueError) as caught:
        TokenVerifier(issuer="", audience="")
    assert "issuer" in str(caught.value) and "jwks_url" in str(caught.value) and "revocations" in str(caught.value)
    with pytest.raises(ValueError) as caught:
        TokenVerifier.from_env({"AUTHGW_JWKS_URL": "ftp://x", "AUTHGW_TRUST_WINDOW": "soon"})
    message = str(caught.value)
    for needle in ("AUTHGW_ISSUER", "AUTHGW_JWKS_URL", "AUTHGW_REVOCATIONS_URL", "AUTHGW_TRUST_WINDOW"):
        assert needle in message


def test_from_env_builds_http_sources():
    v = TokenVerifier.from_env({"AUTHGW_ISSUER": "https://i.test", "AUTHGW_JWKS_URL": "http://127.0.0.1:1/jwks",
                                "AUTHGW_REVOCATIONS_URL": "http://127.0.0.1:1/rev", "AUTHGW_TRUST_WINDOW": "90"})
    assert v.issuer == "https://i.test" and v.audience == "api"
    assert v.keys.url.endswith("/jwks") and v.revocations.trust_window == 90
