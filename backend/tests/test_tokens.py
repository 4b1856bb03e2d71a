"""Access tokens: only our own, intact, current ``at+jwt`` tokens are accepted.

Each forged token is checked twice: by ``decode_access_token`` (the pure
function, the kit's checks) and through ``/api/me`` (what a client sees: 401
with the RFC 6750 challenge and the JSON error, never a 5xx). The shared
corpus (tests/corpus) runs through ``decode_access_token`` and the backend's
revocation feed: every verdict must match the kit's and the gateway's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import authgw_kit
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgw.extension import AuthGW
from authgw.exceptions import TokenExpired, TokenInvalid
from authgw.extensions import db
from authgw.keys import KeySet, SigningKey, load_key_set
from authgw.revocation import RevocationFeed
from authgw.models import RefreshToken, Session, User
from authgw.tokens import decode_access_token, issue_access_token

from .conftest import PUBLIC_URL, write_ec_key
from .fakes import b64url, b64url_json
from .flows import bearer

ISSUER, AUDIENCE = PUBLIC_URL, "api"
REQUIRED = ["iss", "aud", "sub", "iat", "exp", "jti", "sid", "email", "name", "roles", "permissions"]


@pytest.fixture(scope="module")
def key_set(signing_key_file):
    return load_key_set(signing_key_file, "ES256")


@pytest.fixture(scope="module")
def rsa_key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rsa") / "rsa.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def claims_for(sid: str = "session-1", sub: str = "1", **changes) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 900, "jti": "jti-1",
              "sid": sid, "email": "alice@example.test", "name": "Alice", "roles": ["user"], "permissions": []}
    claims.update(changes)
    return claims


def sign(key_set, claims: dict, headers: dict | None = None, key=None, algorithm: str = "ES256") -> str:
    """Sign ``claims`` with our key (or ``key``); headers default to a proper access token's."""
    kid = key_set.signing_key.kid
    all_headers = {"kid": kid, "typ": "at+jwt", **(headers or {})}
    for name in [k for k, v in all_headers.items() if v is None]:
        del all_headers[name]
    return jwt.encode(claims, key or key_set.signing_key.private_key, algorithm=algorithm, headers=all_headers)


def resign_raw(key_set, header: dict, claims: dict) -> str:
    """Sign an arbitrary header as-is with our ES256 key (PyJWT would normalise it)."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    algo = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256)
    signature = algo.sign(signing_input.encode(), key_set.signing_key.private_key)
    return f"{signing_input}.{b64url(signature)}"


def decode(token, key_set):
    return decode_access_token(token, key_set, issuer=ISSUER, audience=AUDIENCE)


def assert_refused(token, key_set):
    with pytest.raises(TokenInvalid):
        decode(token, key_set)


# -- the pure function ------------------------------------------------------


def test_token_issued_by_the_service_is_accepted(key_set):
    token, issued = issue_access_token(key_set, issuer=ISSUER, audience=AUDIENCE, ttl=900, subject="7",
                                       session_id="sid-7", email="a@example.test", name="A",
                                       roles=["user", "admin"], permissions=["users:read"])
    claims = decode(token, key_set)
    assert claims == issued
    assert claims["sub"] == "7" and claims["roles"] == ["admin", "user"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": key_set.signing_key.kid, "typ": "at+jwt"}


def test_alg_none_is_refused(key_set):
    header = {"alg": "none", "kid": key_set.signing_key.kid, "typ": "at+jwt"}
    token = f"{b64url_json(header)}.{b64url_json(claims_for())}."
    assert_refused(token, key_set)


@pytest.mark.parametrize("key_file_fixture, algorithm", [("signing_key_file", "ES256"), ("rsa_key_file", "RS256")])
def test_hs256_signed_with_the_public_key_is_refused(request, key_file_fixture, algorithm):
    """Algorithm confusion: the public key's PEM bytes used as an HMAC secret."""
    keys = load_key_set(request.getfixturevalue(key_file_fixture), algorithm)
    public_pem = keys.signing_key.public_key.public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64url_json({'alg': 'HS256', 'kid': keys.signing_key.kid, 'typ': 'at+jwt'})}.{b64url_json(claims_for())}"
    for secret in (public_pem, public_pem.strip(), json.dumps(keys.signing_key.public_jwk).encode()):
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert_refused(f"{signing_input}.{b64url(signature)}", keys)


def test_stripped_signature_is_refused(key_set):
    token = sign(key_set, claims_for())
    assert_refused(token.rsplit(".", 1)[0] + ".", key_set)
    assert_refused(token.rsplit(".", 1)[0], key_set)


def test_edited_payload_with_the_old_signature_is_refused(key_set):
    token = sign(key_set, claims_for())
    header, _, signature = token.split(".")
    forged = b64url_json(claims_for(roles=["user", "admin"], permissions=["users:write"]))
    assert_refused(f"{header}.{forged}.{signature}", key_set)


def test_edited_signature_is_refused(key_set):
    token = sign(key_set, claims_for())
    head, signature = token.rsplit(".", 1)
    flipped = ("A" if signature[10] != "A" else "B")
    assert_refused(f"{head}.{signature[:10]}{flipped}{signature[11:]}", key_set)


@pytest.mark.parametrize("kid", ["unknown-kid", "../../../../../../dev/null", "/etc/passwd",
                                 "' OR '1'='1' --", "x; DROP TABLE users", "", 0, ["kid"], {"a": 1}, None])
def test_injected_or_unknown_kid_is_refused(key_set, kid):
    header = {"alg": "ES256", "typ": "at+jwt"}
    if kid is not None:
        header["kid"] = kid
    assert_refused(resign_raw(key_set, header, claims_for()), key_set)


@pytest.mark.parametrize("name, value", [
    ("jku", "https://evil.example/jwks.json"),
    ("jwk", {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
    ("x5u", "https://evil.example/cert.pem"),
    ("x5c", ["MIIB"]),
    ("crit", ["exp"]),
])
def test_key_location_and_crit_headers_are_refused_even_when_signed(key_set, name, value):
    header = {"alg": "ES256", "kid": key_set.signing_key.kid, "typ": "at+jwt", name: value}
    assert_refused(resign_raw(key_set, header, claims_for()), key_set)


def test_jwk_header_carrying_the_attackers_key_is_refused(key_set):
    attacker = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    token = jwt.encode(claims_for(), attacker, algorithm="ES256",
                       headers={"kid": key_set.signing_key.kid, "typ": "at+jwt", "jwk": jwk})
    assert_refused(token, key_set)


def test_wrong_issuer_is_refused(key_set):
    assert_refused(sign(key_set, claims_for(iss="https://evil.example")), key_set)


def test_wrong_audience_is_refused(key_set):
    assert_refused(sign(key_set, claims_for(aud="other-api")), key_set)


def test_audience_array_without_ours_is_refused(key_set):
    assert_refused(sign(key_set, claims_for(aud=["other"])), key_set)
    assert_refused(sign(key_set, claims_for(aud=[])), key_set)
    assert_refused(sign(key_set, claims_for(aud=[AUDIENCE, 1])), key_set)


def test_audience_array_containing_ours_is_accepted(key_set):
    """RFC 7519 §4.1.3: ``aud`` may be an array; ours must be one of its values."""
    assert decode(sign(key_set, claims_for(aud=[AUDIENCE])), key_set)["sub"] == "1"
    assert decode(sign(key_set, claims_for(aud=["other", AUDIENCE])), key_set)["sub"] == "1"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "JOSE", "id_token", "", 1, None])
def test_token_without_at_jwt_type_is_refused(key_set, typ):
    header = {"alg": "ES256", "kid": key_set.signing_key.kid}
    if typ is not None:
        header["typ"] = typ
    assert_refused(resign_raw(key_set, header, claims_for()), key_set)


def test_media_type_form_of_typ_is_accepted(key_set):
    """RFC 9068 §2.1: ``application/at+jwt`` is the same type."""
    assert decode(sign(key_set, claims_for(), headers={"typ": "application/at+jwt"}), key_set)["sub"] == "1"


def test_expired_token_is_refused(key_set):
    now = int(time.time())
    with pytest.raises(TokenExpired):
        decode(sign(key_set, claims_for(iat=now - 1000, exp=now - 31)), key_set)


def test_token_expired_within_30_seconds_of_leeway_is_accepted(key_set):
    now = int(time.time())
    assert decode(sign(key_set, claims_for(iat=now - 1000, exp=now - 20)), key_set)["sub"] == "1"


def test_token_not_valid_before_a_future_nbf_is_refused(key_set):
    assert_refused(sign(key_set, claims_for(nbf=int(time.time()) + 120)), key_set)


def test_token_issued_in_the_future_is_refused(key_set):
    now = int(time.time())
    assert_refused(sign(key_set, claims_for(iat=now + 120, exp=now + 1000)), key_set)


def test_small_clock_skew_on_iat_is_tolerated(key_set):
    now = int(time.time())
    assert decode(sign(key_set, claims_for(iat=now + 10, exp=now + 900)), key_set)["sub"] == "1"


@pytest.mark.parametrize("claim", REQUIRED)
def test_token_missing_a_required_claim_is_refused(key_set, claim):
    claims = claims_for()
    del claims[claim]
    assert_refused(sign(key_set, claims), key_set)


@pytest.mark.parametrize("claim, value", [
    ("sub", 1), ("sub", ""), ("sub", None), ("sid", 5), ("sid", ""), ("jti", ["x"]), ("email", None),
    ("name", {"first": "A"}), ("roles", "admin"), ("roles", {"admin": True}), ("roles", [1]),
    ("permissions", [1, 2]), ("permissions", "users:write"), ("permissions", None),
    ("exp", "9999999999"), ("exp", True), ("iat", "now"), ("iss", ["x"]),
])
def test_claim_of_the_wrong_type_is_refused(key_set, claim, value):
    header = {"alg": "ES256", "kid": key_set.signing_key.kid, "typ": "at+jwt"}
    assert_refused(resign_raw(key_set, header, claims_for(**{claim: value})), key_set)


def test_token_signed_by_another_key_with_our_kid_is_refused(key_set):
    other = ec.generate_private_key(ec.SECP256R1())
    assert_refused(sign(key_set, claims_for(), key=other), key_set)


def test_oversized_token_is_refused_unparsed(key_set):
    assert_refused(sign(key_set, claims_for(name="x" * 9000)), key_set)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "....", "é.é.é", "\x00.\x00.\x00",
                                     "eyJhbGciOiJFUzI1NiJ9.e30.", b64url(b"\xff\xfe") + ".e30.sig",
                                     b64url_json([1, 2]) + ".e30.sig", b64url_json("str") + ".e30.sig"])
def test_garbage_is_refused_as_invalid_token(key_set, garbage):
    assert_refused(garbage, key_set)


def test_previous_key_in_the_key_file_still_verifies_its_tokens(tmp_path, signing_key_file):
    """After a rotation the old key is second in the file: its live tokens stay valid."""
    old = load_key_set(signing_key_file, "ES256")
    new_file = tmp_path / "rotated.pem"
    write_ec_key(new_file)
    new_file.write_bytes(new_file.read_bytes() + signing_key_file.read_bytes())
    rotated = load_key_set(new_file, "ES256")
    assert rotated.signing_key.kid != old.signing_key.kid
    assert decode(sign(old, claims_for()), rotated)["sub"] == "1"
    assert {k["kid"] for k in rotated.jwks()["keys"]} == {old.signing_key.kid, rotated.signing_key.kid}


def test_rs256_token_is_accepted_with_an_rs256_key(rsa_key_file):
    keys = load_key_set(rsa_key_file, "RS256")
    token, _ = issue_access_token(keys, issuer=ISSUER, audience=AUDIENCE, ttl=60, subject="1", session_id="s",
                                  email="a@example.test", name="A", roles=[], permissions=[])
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert decode(token, keys)["sub"] == "1"


def test_es256_token_is_refused_by_an_rs256_only_key_set(key_set, rsa_key_file):
    keys = load_key_set(rsa_key_file, "RS256")
    header = {"alg": "ES256", "kid": keys.signing_key.kid, "typ": "at+jwt"}
    assert_refused(resign_raw(key_set, header, claims_for()), keys)


# -- the shared corpus (tests/corpus/README.md) -------------------------------

CORPUS = json.loads((Path(__file__).resolve().parents[2] / "tests" / "corpus" / "corpus.json").read_text())


@pytest.fixture(scope="module")
def corpus_key_set():
    """The corpus's published keys as the backend's KeySet (kids as in the corpus)."""
    keys = {}
    for entry in CORPUS["keys"]:
        if not entry["published"]:
            continue
        private_key = serialization.load_pem_private_key(entry["private_pem"].encode(), password=None)
        jwk = next(k for k in CORPUS["jwks"]["keys"] if k["kid"] == entry["kid"])
        keys[entry["kid"]] = SigningKey(kid=entry["kid"], algorithm=entry["alg"], private_key=private_key,
                                        public_key=private_key.public_key(), public_jwk=jwk)
    return KeySet(signing_key=keys["corpus-es256"], keys=keys)


class CorpusFeed(RevocationFeed):
    """The backend's revocation feed, reading the corpus snapshot instead of the database."""

    def _read(self) -> dict:
        return CORPUS["revocations"]


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["name"] for c in CORPUS["cases"]])
def test_backend_gives_each_corpus_case_its_verdict(corpus_key_set, case):
    feed = CorpusFeed(window=930, background=False)
    try:
        claims = decode_access_token(case["token"], corpus_key_set, issuer=CORPUS["issuer"],
                                     audience=CORPUS["audience"], leeway=CORPUS["leeway"], now=CORPUS["now"])
        feed.check(claims)
        verdict = "valid"
    except TokenInvalid as exc:
        assert exc.code == 401
        verdict = exc.error
    except authgw_kit.InvalidToken as exc:  # raised by the feed's check
        verdict = exc.error
    assert verdict == case["verdict"], case["why"]
    if case["stage"] == "revocation":  # the token itself is fine; only the feed refuses it
        decode_access_token(case["token"], corpus_key_set, issuer=CORPUS["issuer"], audience=CORPUS["audience"],
                            now=CORPUS["now"])


def test_expired_corpus_token_is_token_expired(corpus_key_set):
    token = next(c["token"] for c in CORPUS["cases"] if c["name"] == "expired_beyond_leeway")
    with pytest.raises(TokenExpired):
        decode_access_token(token, corpus_key_set, issuer=CORPUS["issuer"], audience=CORPUS["audience"],
                            now=CORPUS["now"])


def test_hostile_header_never_escapes_as_another_exception(key_set):
    for segment in (b"[" * 5000, b'{"a":' * 1000, b"[" * 100_000):
        token = f"{b64url(segment)}.e30.c2ln"
        with pytest.raises(TokenInvalid):
            decode(token, key_set)


# -- through the HTTP API ---------------------------------------------------

CHALLENGE_WITH_ERROR = 'Bearer realm="api", error="invalid_token"'


def assert_invalid_token_answer(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith(CHALLENGE_WITH_ERROR)
    assert response.is_json and response.get_json()["error"] == "invalid_token"
    assert "error_description" in response.get_json()


def test_me_answers_the_signed_in_user(client, signed_in):
    response = client.get("/api/me", headers=signed_in.auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(signed_in.user_id)
    assert set(body) == {"id", "email", "name", "picture", "roles", "permissions"}
    assert body["roles"] == ["user"] and body["permissions"] == ["notes:read", "notes:write"]


@pytest.fixture
def forged(app, signed_in):
    """Builders of forged tokens for the live session of ``signed_in``."""
    keys = AuthGW.of(app).key_set
    sid, sub = signed_in.session_id, str(signed_in.user_id)
    now = int(time.time())
    other = ec.generate_private_key(ec.SECP256R1())
    valid = sign(keys, claims_for(sid=sid, sub=sub))
    head, payload, signature = valid.split(".")
    public_pem = keys.signing_key.public_key.public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_input = f"{b64url_json({'alg': 'HS256', 'kid': keys.signing_key.kid, 'typ': 'at+jwt'})}.{payload}"
    return {
        "alg_none": f"{b64url_json({'alg': 'none', 'kid': keys.signing_key.kid, 'typ': 'at+jwt'})}.{payload}.",
        "hs256_public_key": f"{hs_input}.{b64url(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())}",
        "stripped_signature": f"{head}.{payload}.",
        "edited_payload": f"{head}.{b64url_json(claims_for(sid=sid, sub=sub, roles=['admin']))}.{signature}",
        "edited_signature": f"{head}.{payload}.{signature[:-6]}AAAAAA",
        "unknown_kid": sign(keys, claims_for(sid=sid, sub=sub), headers={"kid": "../../etc/passwd"}),
        "sql_kid": sign(keys, claims_for(sid=sid, sub=sub), headers={"kid": "' UNION SELECT 1 --"}),
        "jku": resign_raw(keys, {"alg": "ES256", "kid": keys.signing_key.kid, "typ": "at+jwt",
                                 "jku": "https://evil.example/jwks"}, claims_for(sid=sid, sub=sub)),
        "x5u": resign_raw(keys, {"alg": "ES256", "kid": keys.signing_key.kid, "typ": "at+jwt",
                                 "x5u": "https://evil.example/c"}, claims_for(sid=sid, sub=sub)),
        "wrong_iss": sign(keys, claims_for(sid=sid, sub=sub, iss="https://evil.example")),
        "wrong_aud": sign(keys, claims_for(sid=sid, sub=sub, aud="other")),
        "aud_list": sign(keys, claims_for(sid=sid, sub=sub, aud=["other", "more"])),
        "typ_jwt": sign(keys, claims_for(sid=sid, sub=sub), headers={"typ": "JWT"}),
        "typ_missing": sign(keys, claims_for(sid=sid, sub=sub), headers={"typ": None}),
        "expired": sign(keys, claims_for(sid=sid, sub=sub, iat=now - 2000, exp=now - 60)),
        "future_nbf": sign(keys, claims_for(sid=sid, sub=sub, nbf=now + 300)),
        "future_iat": sign(keys, claims_for(sid=sid, sub=sub, iat=now + 300, exp=now + 1200)),
        "missing_sid": sign(keys, {k: v for k, v in claims_for(sid=sid, sub=sub).items() if k != "sid"}),
        "sub_int": sign(keys, claims_for(sid=sid, sub=int(sub))),
        "roles_string": sign(keys, claims_for(sid=sid, sub=sub, roles="admin")),
        "permissions_ints": sign(keys, claims_for(sid=sid, sub=sub, permissions=[1, 2])),
        "exp_string": sign(keys, claims_for(sid=sid, sub=sub, exp=str(now + 900))),
        "other_key_same_kid": sign(keys, claims_for(sid=sid, sub=sub), key=other),
        "oversized": sign(keys, claims_for(sid=sid, sub=sub, name="x" * 9000)),
        "garbage": "not-a-jwt",
        "non_ascii": "é.é.é",
    }


FORGERIES = ["alg_none", "hs256_public_key", "stripped_signature", "edited_payload", "edited_signature",
             "unknown_kid", "sql_kid", "jku", "x5u", "wrong_iss", "wrong_aud", "aud_list", "typ_jwt",
             "typ_missing", "expired", "future_nbf", "future_iat", "missing_sid", "sub_int", "roles_string",
             "permissions_ints", "exp_string", "other_key_same_kid", "oversized", "garbage", "non_ascii"]


@pytest.mark.parametrize("kind", FORGERIES)
@pytest.mark.parametrize("path", ["/api/me", "/api/ping"])
def test_forged_or_invalid_token_gets_401_invalid_token(client, forged, kind, path):
    assert_invalid_token_answer(client.get(path, headers=bearer(forged[kind])))


def test_control_token_of_the_forgery_fixture_is_accepted(app, client, signed_in):
    """The forgeries above differ from this accepted token in one respect each."""
    keys = AuthGW.of(app).key_set
    token = sign(keys, claims_for(sid=signed_in.session_id, sub=str(signed_in.user_id)))
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_request_without_token_gets_a_challenge_without_error(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.get_json()["error"] == "invalid_token"


def test_other_authorization_schemes_count_as_no_token(client, signed_in):
    response = client.get("/api/me", headers={"Authorization": f"Basic {signed_in.access_token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b c"])
def test_malformed_bearer_header_gets_401_invalid_token(client, header):
    assert_invalid_token_answer(client.get("/api/me", headers={"Authorization": header}))


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_bearer_scheme_is_case_insensitive(client, signed_in, scheme):
    response = client.get("/api/me", headers={"Authorization": f"{scheme} {signed_in.access_token}"})
    assert response.status_code == 200


def test_access_token_query_parameter_is_ignored(client, signed_in):
    response = client.get("/api/me", query_string={"access_token": signed_in.access_token})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_access_token_form_parameter_is_ignored(client, signed_in):
    response = client.post("/api/auth/logout-all", data={"access_token": signed_in.access_token})
    assert response.status_code == 401
    assert client.get("/api/me", headers=signed_in.auth).status_code == 200


def test_token_of_a_deleted_account_is_refused(app, client, signed_in):
    with app.app_context():
        db.session.query(RefreshToken).delete()
        db.session.query(Session).delete()
        db.session.delete(db.session.get(User, signed_in.user_id))
        db.session.commit()
    assert_invalid_token_answer(client.get("/api/me", headers=signed_in.auth))


def test_rs256_configured_service_issues_and_accepts_rs256_tokens(make_app, rsa_key_file, make_user, make_session):
    app = make_app(JWT_ALGORITHM="RS256", JWT_PRIVATE_KEY_FILE=str(rsa_key_file))
    client = app.test_client()
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert [(k["kty"], k["alg"], k["use"]) for k in jwks["keys"]] == [("RSA", "RS256", "sig")]
    token = make_session(make_user(on=app), on=app).access_token
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_jwks_publishes_the_signing_key_with_kid_alg_use(app, client, signed_in):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"] and "no-store" not in response.headers["Cache-Control"]
    keys = response.get_json()["keys"]
    kid = jwt.get_unverified_header(signed_in.access_token)["kid"]
    published = {k["kid"]: k for k in keys}
    assert published[kid]["alg"] == "ES256" and published[kid]["use"] == "sig"
    assert "d" not in published[kid]  # never the private part
    public_key = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(published[kid]))
    claims = jwt.decode(signed_in.access_token, public_key, algorithms=["ES256"], audience="api")
    assert claims["sid"] == signed_in.session_id
