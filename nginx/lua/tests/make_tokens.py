"""Write a token corpus for the gateway's Lua tests (same shape as
tests/corpus/corpus.json, see docs/gateway-lua.md "Tests").

Throwaway keys are generated on each run; nothing here is a real secret.

    python make_tokens.py OUT.json
"""

from __future__ import annotations

import base64
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "http://gateway.test"
AUDIENCE = "api"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: object, payload: object, signature: bytes = b"x" * 64) -> str:
    """A token with arbitrary JSON (or raw bytes) in header and payload, unsigned."""
    def seg(part: object) -> str:
        if isinstance(part, bytes):
            return b64(part)
        return b64(json.dumps(part, separators=(",", ":")).encode())
    return f"{seg(header)}.{seg(payload)}.{b64(signature)}"


def main(out: str) -> None:
    now = int(time.time())
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_key2 = ec.generate_private_key(ec.SECP256R1())  # not published: forgeries
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [
        {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec1", "alg": "ES256", "use": "sig"},
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "rsa1", "alg": "RS256", "use": "sig"},
    ]}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "42", "iat": now - 10, "exp": now + 900,
              "jti": "j1", "sid": "s1", "email": "a@example.com", "name": "A",
              "roles": ["user"], "permissions": ["notes:read", "notes:write"]}
    hdr = {"alg": "ES256", "kid": "ec1", "typ": "at+jwt"}

    def es(c=None, h=None, key=ec_key):
        headers = {k: v for k, v in (h or hdr).items() if k != "alg"}
        return jwt.encode(c if c is not None else claims, key, algorithm="ES256", headers=headers)

    def without(name):
        return {k: v for k, v in claims.items() if k != name}

    cases = []

    def case(name, token, verdict, why=""):
        cases.append({"name": name, "token": token, "verdict": verdict, "why": why})

    case("valid_es256", es(), "valid")
    case("valid_typ_application", es(h={**hdr, "typ": "application/at+jwt"}), "valid")
    case("valid_typ_upper", es(h={**hdr, "typ": "AT+JWT"}), "valid")
    case("valid_aud_array", es({**claims, "aud": ["other", AUDIENCE]}), "valid")
    case("valid_nbf", es({**claims, "nbf": now - 5}), "valid")
    case("valid_client", es({**claims, "sub": "svc1", "client_id": "svc1"}), "valid")
    case("valid_expired_within_leeway", es({**claims, "exp": now - 20}), "valid")
    case("valid_unicode_name", es({**claims, "name": "Zoë 名前"}), "valid")
    rs_headers = {"kid": "rsa1", "typ": "at+jwt"}
    case("rs256_not_configured_by_default", jwt.encode(claims, rsa_key, algorithm="RS256", headers=rs_headers),
         "invalid_token", "RS256 is allowed only when configured")
    case("forged_other_key", es(key=ec_key2), "invalid_token", "signature by an unpublished key")
    good = es()
    h, p, s = good.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(p + "=="))
    tampered["permissions"].append("users:write")
    case("tampered_payload", f"{h}.{b64(json.dumps(tampered).encode())}.{s}", "invalid_token")
    case("zero_signature", f"{h}.{p}.{b64(bytes(64))}", "invalid_token")
    case("short_signature", f"{h}.{p}.{b64(bytes(63))}", "invalid_token")
    case("empty_signature", f"{h}.{p}.", "invalid_token")
    case("alg_none", raw_token({"alg": "none", "kid": "ec1", "typ": "at+jwt"}, claims, b""), "invalid_token")
    case("alg_hs256_confusion", raw_token({"alg": "HS256", "kid": "ec1", "typ": "at+jwt"}, claims), "invalid_token")
    case("alg_mismatch_rsa_kid", raw_token({"alg": "ES256", "kid": "rsa1", "typ": "at+jwt"}, claims), "invalid_token")
    case("no_typ", es(h={"kid": "ec1"}), "invalid_token")
    case("typ_jwt", es(h={**hdr, "typ": "JWT"}), "invalid_token")
    case("unknown_kid", es(h={**hdr, "kid": "nope"}), "invalid_token")
    case("kid_number", raw_token({**hdr, "kid": 1}, claims), "invalid_token")
    for name in ("jku", "jwk", "x5u", "x5c", "crit"):
        case(f"forbidden_header_{name}", es(h={**hdr, name: "x" if name != "crit" else ["exp"]}), "invalid_token")
    for name in ("iss", "aud", "sub", "iat", "exp", "jti", "sid", "email", "name", "roles", "permissions"):
        case(f"missing_{name}", es(without(name)), "invalid_token")
    case("wrong_iss", es({**claims, "iss": "http://evil"}), "invalid_token")
    case("wrong_aud", es({**claims, "aud": "other"}), "invalid_token")
    case("aud_array_without", es({**claims, "aud": ["other"]}), "invalid_token")
    case("expired", es({**claims, "exp": now - 31}), "invalid_token")
    case("iat_future", es({**claims, "iat": now + 60}), "invalid_token")
    case("nbf_future", es({**claims, "nbf": now + 60}), "invalid_token")
    case("nbf_string", es({**claims, "nbf": "0"}), "invalid_token")
    case("exp_string", es({**claims, "exp": str(now + 900)}), "invalid_token")
    case("exp_bool", es({**claims, "exp": True}), "invalid_token")
    case("iat_null", es({**claims, "iat": None}), "invalid_token")
    case("sub_empty", es({**claims, "sub": ""}), "invalid_token")
    case("sub_number", es({**claims, "sub": 42}), "invalid_token")
    case("sid_empty", es({**claims, "sid": ""}), "invalid_token")
    case("email_number", es({**claims, "email": 1}), "invalid_token")
    case("roles_string", es({**claims, "roles": "admin"}), "invalid_token")
    case("roles_object", es({**claims, "roles": {"0": "admin"}}), "invalid_token")
    case("permissions_mixed", es({**claims, "permissions": ["notes:read", 1]}), "invalid_token")
    case("client_id_not_sub", es({**claims, "client_id": "svc9"}), "invalid_token")
    case("revoked_session", es({**claims, "sid": "revoked-sid"}), "invalid_token", "sid in sessions")
    case("subject_not_before", es({**claims, "sub": "demoted", "iat": now - 100}), "invalid_token",
         "iat before subjects[sub]")
    case("subject_after_not_before", es({**claims, "sub": "demoted", "iat": now - 10}), "valid")
    case("role_not_before", es({**claims, "roles": ["user", "support"], "iat": now - 100}), "invalid_token",
         "iat before roles[support]")
    # Hostile JSON (issue 14 item 6): never a Lua error, always invalid_token.
    case("header_5000_brackets", f"{b64(b'[' * 5000)}.{p}.{s}", "invalid_token")
    case("payload_5000_brackets", f"{h}.{b64(b'[' * 5000)}.{s}", "invalid_token")
    braces = b64(b'{"a":' * 2000)
    not_utf8 = b64(b'{"typ":"at+jwt","kid":"ec1","alg":"ES256","x":"\xff"}')
    nan = b64(b'{"exp":NaN}')
    case("payload_5000_braces", f"{h}.{braces}.{s}", "invalid_token")
    case("header_not_json", f"{b64(b'not json')}.{p}.{s}", "invalid_token")
    json_string = b64(b'"at+jwt"')
    case("header_json_string", f"{json_string}.{p}.{s}", "invalid_token")
    case("header_json_array", f"{b64(b'[1,2]')}.{p}.{s}", "invalid_token")
    case("header_not_utf8", f"{not_utf8}.{p}.{s}", "invalid_token")
    case("payload_nan", f"{h}.{nan}.{s}", "invalid_token")
    case("payload_truncated", f"{h}.{p[:-7]}.{s}", "invalid_token")
    case("two_segments", f"{h}.{p}", "invalid_token")
    case("four_segments", f"{h}.{p}.{s}.{s}", "invalid_token")
    case("padding_chars", f"{h}=.{p}.{s}", "invalid_token")
    case("non_ascii", good + "é", "invalid_token")
    case("oversized", f"{h}.{'A' * 8200}.{s}", "invalid_token")
    case("empty", "", "invalid_token")
    revocations = {"generated_at": now, "window": 930,
                   "sessions": {"revoked-sid": now - 5},
                   "subjects": {"demoted": now - 50},
                   "roles": {"support": now - 50}}
    doc = {"issuer": ISSUER, "audience": AUDIENCE, "jwks": jwks, "revocations": revocations,
           "now": now, "cases": cases}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
