#!/usr/bin/env python3
"""Write the shared access-token corpus: tests/corpus/corpus.json.

Every checker of authgw (the kit, the backend, the gateway's Lua check)
reads this file and must give each case its ``verdict``. The keys are
throwaway keys made here, used nowhere else. The format is described in
tests/corpus/README.md.

Usage::

    python tests/corpus/make_corpus.py [OUTPUT]     # default: next to this script

Needs PyJWT and cryptography (the backend's virtualenv has both).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

NOW = 1764750000
ISSUER = "https://authgw.test"
AUDIENCE = "api"
LEEWAY = 30
ES_KID, RS_KID, UNKNOWN_KID = "corpus-es256", "corpus-rs256", "corpus-unknown"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def pem(private_key) -> str:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()


def public_pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


class Keys:
    def __init__(self):
        self.es = ec.generate_private_key(ec.SECP256R1())
        self.rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.unknown = ec.generate_private_key(ec.SECP256R1())

    def jwk(self, key, kid: str, alg: str) -> dict:
        cls = ECAlgorithm if alg == "ES256" else RSAAlgorithm
        jwk = cls.to_jwk(key.public_key(), as_dict=True)
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        return jwk


def sign_raw(header_segment: str, payload_segment: str, key, alg: str = "ES256") -> str:
    """Sign the exact segments given (PyJWT would normalise the header)."""
    signing_input = f"{header_segment}.{payload_segment}".encode()
    if alg == "ES256":
        signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input, key)
    else:
        signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, key)
    return f"{header_segment}.{payload_segment}.{b64url(signature)}"


def main(output: Path) -> None:
    keys = Keys()
    base_claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "42", "iat": NOW - 60, "exp": NOW + 840,
                   "jti": "jti-corpus-1", "sid": "sid-live", "email": "alice@example.test", "name": "Alice",
                   "roles": ["user"], "permissions": ["notes:read", "notes:write"]}
    es_header = {"alg": "ES256", "kid": ES_KID, "typ": "at+jwt"}
    cases: list[dict] = []

    def changed(base: dict, changes: dict) -> dict:
        """``base`` with ``changes`` applied; a change to ``...`` removes the member."""
        out = dict(base)
        for name, value in changes.items():
            if value is ...:
                out.pop(name, None)
            else:
                out[name] = value
        return out

    def claims(**changes) -> dict:
        return changed(base_claims, changes)

    def header(**changes) -> dict:
        return changed(es_header, changes)

    def es(claims_=None, header_=None, key=None) -> str:
        return sign_raw(b64json(header_ or es_header), b64json(claims_ or base_claims), key or keys.es)

    def add(name: str, token: str, verdict: str, why: str, stage: str = "token") -> None:
        cases.append({"name": name, "token": token, "verdict": verdict, "why": why, "stage": stage})

    valid = es()
    head, payload, signature = valid.split(".")

    def spliced(head_: str = head, payload_: str = payload, signature_: str = signature) -> str:
        """The valid token with some of its three segments replaced, each given as sent."""
        return f"{head_}.{payload_}.{signature_}"

    def refused(tokens: dict[str, tuple[str, str]]) -> None:
        """Add each ``name: (token, why)`` as an ``invalid_token`` case, in order."""
        for name, (token, why) in tokens.items():
            add(name, token, "invalid_token", why)

    # -- accepted ----------------------------------------------------------
    add("valid_es256", valid, "valid", "a proper ES256 access token")
    add("valid_rs256", sign_raw(b64json({"alg": "RS256", "kid": RS_KID, "typ": "at+jwt"}), payload, keys.rs, "RS256"),
        "valid", "RS256 with the published RS256 key")
    add("valid_client_id", es(claims(sub="svc-reports", client_id="svc-reports", roles=[], permissions=["notes:read"])),
        "valid", "machine client: client_id present and equal to sub (RFC 9068 §2.2)")
    add("valid_typ_media_type", es(header_=header(typ="application/at+jwt")), "valid",
        "typ application/at+jwt is the same media type (RFC 9068 §2.1)")
    add("valid_typ_upper_case", es(header_=header(typ="AT+JWT")), "valid", "typ is compared case-insensitively")
    add("valid_aud_array_with_ours", es(claims(aud=["other", AUDIENCE])), "valid", "aud array containing ours")
    add("valid_expired_within_leeway", es(claims(iat=NOW - 900, exp=NOW - 10)), "valid",
        "exp 10 s past, within the 30 s leeway")
    add("valid_iat_future_within_leeway", es(claims(iat=NOW + 10, exp=NOW + 900)), "valid",
        "iat 10 s ahead, within the leeway")
    add("valid_nbf_past", es(claims(nbf=NOW - 60)), "valid", "nbf in the past")
    add("valid_nbf_within_leeway", es(claims(nbf=NOW + 10)), "valid", "nbf 10 s ahead, within the leeway")
    add("valid_float_times", es(claims(iat=NOW - 60.5, exp=NOW + 839.5)), "valid", "NumericDate may be a float")
    add("valid_empty_lists_braces_in_name", es(claims(roles=[], permissions=[], name="Bob {} { }", ext={"a": 1})),
        "valid", "empty roles and permissions arrays; braces inside a string and a non-empty object elsewhere")
    add("valid_b64_true", es(header_=header(b64=True)), "valid", "b64: true spells out the default (RFC 7797 §3)")
    add("valid_extra_claims", es(claims(scope="ignored", picture="https://example.test/a.png")), "valid",
        "unknown claims are ignored")

    # -- algorithm and key forgeries ---------------------------------------
    add("alg_none", f"{b64json(header(alg='none'))}.{payload}.", "invalid_token", "alg none, empty signature")
    add("alg_none_with_signature", f"{b64json(header(alg='none'))}.{payload}.{signature}", "invalid_token",
        "alg none with a signature segment")
    for label, secret in (("es_pem", public_pem(keys.es)), ("rs_pem", public_pem(keys.rs))):
        kid = ES_KID if label == "es_pem" else RS_KID
        hs_input = f"{b64json({'alg': 'HS256', 'kid': kid, 'typ': 'at+jwt'})}.{payload}"
        add(f"alg_hs256_public_key_{label}",
            f"{hs_input}.{b64url(hmac.new(secret, hs_input.encode(), hashlib.sha256).digest())}",
            "invalid_token", "HS256 with the public key's PEM as HMAC secret (algorithm confusion)")
    add("alg_mismatch_for_kid", sign_raw(b64json({"alg": "RS256", "kid": ES_KID, "typ": "at+jwt"}), payload,
                                         keys.rs, "RS256"),
        "invalid_token", "RS256 token naming the ES256 key's kid")
    add("alg_es256_for_rs_kid", sign_raw(b64json({"alg": "ES256", "kid": RS_KID, "typ": "at+jwt"}), payload, keys.es),
        "invalid_token", "ES256 token naming the RS256 key's kid")
    add("unknown_kid", es(header_=header(kid=UNKNOWN_KID), key=keys.unknown), "invalid_token",
        "signed by a key that is not published")
    add("missing_kid", es(header_=header(kid=...)), "invalid_token", "no kid header")
    add("kid_not_string", es(header_=header(kid=1)), "invalid_token", "kid is a number")
    add("kid_empty", es(header_=header(kid="")), "invalid_token", "kid is empty")
    add("other_key_same_kid", es(key=keys.unknown), "invalid_token", "our kid, someone else's key")

    # -- header checks -----------------------------------------------------
    add("typ_jwt", es(header_=header(typ="JWT")), "invalid_token", "typ JWT (an ID token, not an access token)")
    add("typ_missing", es(header_=header(typ=...)), "invalid_token", "no typ header")
    add("typ_not_string", es(header_=header(typ=1)), "invalid_token", "typ is a number")
    forbidden = {"jku": "https://evil.example/jwks.json",
                 "jwk": keys.jwk(keys.unknown, UNKNOWN_KID, "ES256"),
                 "x5u": "https://evil.example/cert.pem", "x5c": ["MIIBszCCAVmgAwIBAgIU"], "crit": ["exp"]}
    for name, value in forbidden.items():
        add(f"header_{name}", es(header_=header(**{name: value})), "invalid_token",
            f"{name} header present (signed with our key)")

    # -- signature ---------------------------------------------------------
    flipped = ("A" if signature[10] != "A" else "B")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    r_s = base64.urlsafe_b64decode(signature + "==")
    der = encode_dss_signature(int.from_bytes(r_s[:32], "big"), int.from_bytes(r_s[32:], "big"))
    refused({
        "bad_signature": (spliced(signature_=f"{signature[:10]}{flipped}{signature[11:]}"),
                          "one signature character changed"),
        "truncated_signature": (spliced(signature_=signature[:40]), "signature cut short"),
        "empty_signature": (spliced(signature_=""), "signature segment empty"),
        "signature_with_padding": (spliced(signature_=f"{signature}="), "base64url padding is not allowed (RFC 7515 §2)"),
        "signature_non_canonical_base64": (
            spliced(signature_=f"{signature[:-1]}{alphabet[last | 1]}"),
            "last character has non-zero unused bits: same bytes, different text (RFC 4648 §3.5)"),
        "header_b64_false": (es(header_=header(b64=False)), "b64: false (RFC 7797 unencoded payload) is not an access token"),
        "header_b64_null": (es(header_=header(b64=None)), "b64 other than true: null"),
        "header_b64_zero": (es(header_=header(b64=0)), "b64 other than true: 0"),
        "header_b64_string": (es(header_=header(b64="false")), "b64 other than true: the string \"false\""),
        "signature_der_encoded": (spliced(signature_=b64url(der)), "ES256 signature must be raw R||S (RFC 7518 §3.4), not DER"),
        "edited_payload": (spliced(payload_=b64json(claims(roles=["admin"], permissions=["users:write"]))),
                           "payload changed, old signature kept"),
    })

    # -- claims ------------------------------------------------------------
    add("wrong_iss", es(claims(iss="https://evil.example")), "invalid_token", "another issuer")
    add("iss_array", es(claims(iss=[ISSUER])), "invalid_token", "iss must be a string")
    add("wrong_aud", es(claims(aud="other-api")), "invalid_token", "another audience")
    add("aud_array_without_ours", es(claims(aud=["other", "more"])), "invalid_token", "aud array without ours")
    add("aud_array_non_string", es(claims(aud=[AUDIENCE, 1])), "invalid_token", "aud array with a number")
    add("expired_beyond_leeway", es(claims(iat=NOW - 900, exp=NOW - 60)), "invalid_token",
        "exp 60 s past, beyond the leeway")
    add("nbf_future", es(claims(nbf=NOW + 120)), "invalid_token", "nbf 120 s ahead")
    add("iat_future_beyond_leeway", es(claims(iat=NOW + 120, exp=NOW + 1000)), "invalid_token", "iat 120 s ahead")
    for name in base_claims:
        add(f"missing_{name}", es(claims(**{name: ...})), "invalid_token", f"required claim {name} absent")
    wrong_types = {
        "roles_string": ("roles", "admin"), "roles_null_item": ("roles", [None]), "roles_object": ("roles", {"a": 1}),
        "permissions_numbers": ("permissions", [1]), "permissions_string": ("permissions", "notes:write"),
        "iat_bool": ("iat", True), "iat_string": ("iat", str(NOW)), "exp_string": ("exp", str(NOW + 900)),
        "exp_bool": ("exp", True), "nbf_string": ("nbf", "0"), "sub_empty": ("sub", ""), "sub_number": ("sub", 42),
        "sid_empty": ("sid", ""), "sid_number": ("sid", 5), "jti_empty": ("jti", ""), "jti_array": ("jti", ["x"]),
        "email_number": ("email", 1), "name_object": ("name", {"first": "A"}), "email_null": ("email", None),
        "client_id_not_sub": ("client_id", "svc-other"), "client_id_number": ("client_id", 42),
        "roles_empty_object": ("roles", {}), "permissions_empty_object": ("permissions", {}),
        "nbf_null": ("nbf", None), "client_id_null": ("client_id", None),
        "name_lone_surrogate": ("name", "\ud800"),
    }
    for label, (name, value) in wrong_types.items():
        add(f"claim_{label}", es(claims(**{name: value})), "invalid_token", f"{name} = {json.dumps(value)}")
    inf_payload = b64url(json.dumps(base_claims).replace(str(NOW + 840), "Infinity").encode())
    add("claim_exp_infinity", sign_raw(head, inf_payload, keys.es), "invalid_token",
        "exp is Infinity (not JSON; some parsers accept it)")
    add("payload_not_object", sign_raw(head, b64json([base_claims]), keys.es), "invalid_token",
        "payload is an array")
    escaped_key = json.dumps(claims(roles={}), separators=(",", ":")).replace('"roles"', '"rol\\u0065s"')
    add("claim_roles_empty_object_escaped_key", sign_raw(head, b64url(escaped_key.encode()), keys.es), "invalid_token",
        'roles = {} under a key spelled with an escape ("rol\\u0065s")')
    huge_payload = b64url(json.dumps(base_claims).replace(str(NOW + 840), "1" + "0" * 400).encode())
    add("claim_exp_huge_integer", sign_raw(head, huge_payload, keys.es), "invalid_token",
        "exp is a 401-digit integer (beyond a double: infinity to some parsers)")
    bom = b"\xef\xbb\xbf"
    refused({
        "payload_utf8_bom": (sign_raw(head, b64url(bom + json.dumps(base_claims).encode()), keys.es),
                             "payload starts with a UTF-8 byte order mark (RFC 8259 §8.1: none)"),
        "payload_utf16": (sign_raw(head, b64url(json.dumps(base_claims).encode("utf-16")), keys.es),
                          "payload in UTF-16 (RFC 8259 §8.1: UTF-8 only)"),
        "header_utf8_bom": (sign_raw(b64url(bom + json.dumps(es_header).encode()), payload, keys.es),
                            "header starts with a UTF-8 byte order mark"),
    })

    # -- hostile and malformed input ----------------------------------------
    deep_payload = b64url(json.dumps(base_claims)[:-1].encode() + b', "x": ' + b"[" * 2000 + b"]" * 2000 + b"}")
    refused({
        "header_hostile_nesting": (spliced(head_=b64url(b"[" * 5000)), "header of 5000 '[' (deep recursion in naive parsers)"),
        # All within 8192 bytes, so that the nesting (not the size limit) is what gets refused.
        "header_nested_objects": (spliced(head_=b64url(b'{"a":' * 1100)), "header of 1100 nested, unclosed objects"),
        "payload_hostile_nesting": (sign_raw(head, deep_payload, keys.es),
                                    "well-formed payload with a claim nested 2000 deep, signed with our key"),
        "payload_unclosed_nesting": (sign_raw(head, b64url(b"[" * 5000), keys.es), "payload of 5000 '[', signed with our key"),
        "header_not_json": (spliced(head_=b64url(b"not json")), "header is not JSON"),
        "header_not_utf8": (spliced(head_=b64url(bytes([0xff, 0xfe, 0x7b]))), "header is not UTF-8"),
        "header_array": (spliced(head_=b64json([1, 2])), "header is an array"),
        "header_string": (spliced(head_=b64json("at+jwt")), "header is a string"),
        "header_bad_base64": (spliced(head_=f"{head[:5]}!{head[6:]}"), "a character outside base64url"),
        "two_segments": (f"{head}.{payload}", "two segments"),
        "four_segments": (f"{valid}.{signature}", "four segments"),
        "five_segments_jwe_like": (f"{valid}.{signature}.{signature}", "five segments (JWE shape)"),
        "empty": ("", "empty string"),
        "not_a_jwt": ("not-a-jwt", "no dots at all"),
        "non_ascii": (spliced(signature_=f"{signature[:-1]}é"), "a non-ASCII character"),
        "whitespace_inside": (spliced(payload_=f" {payload}"), "a space inside the token"),
        "oversized": (es(claims(name="x" * 8200)), "more than 8192 bytes (signed)"),
    })

    # -- revocation feed (after the token checks) ---------------------------
    revocations = {
        "generated_at": NOW - 0.5,
        "window": 930,
        "sessions": {"sid-revoked": NOW - 30},
        "subjects": {"sub-demoted": NOW - 30, "sub-equal": NOW - 60, "sub-old-change": NOW - 120},
        "roles": {"support": NOW - 30, "auditor": NOW - 120},
    }
    add("revoked_session", es(claims(sid="sid-revoked")), "invalid_token", "sid is in sessions", "revocation")
    add("subject_not_before_after_iat", es(claims(sub="sub-demoted")), "invalid_token",
        "subjects[sub] = iat + 30", "revocation")
    add("subject_not_before_equal_iat", es(claims(sub="sub-equal")), "valid",
        "subjects[sub] = iat: not refused (the rule is iat < value)", "revocation")
    add("subject_not_before_before_iat", es(claims(sub="sub-old-change")), "valid",
        "subjects[sub] = iat - 60", "revocation")
    add("role_not_before_after_iat", es(claims(roles=["user", "support"])), "invalid_token",
        "roles[support] = iat + 30", "revocation")
    add("role_not_before_before_iat", es(claims(roles=["user", "auditor"])), "valid",
        "roles[auditor] = iat - 60", "revocation")
    add("role_listed_but_not_held", es(claims(roles=["user"], permissions=[])), "valid",
        "a revoked role the token does not hold", "revocation")

    names = [case["name"] for case in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    corpus = {
        "description": "Shared access-token corpus of authgw; generated by tests/corpus/make_corpus.py "
                       "with throwaway keys; format in tests/corpus/README.md.",
        "now": NOW,
        "leeway": LEEWAY,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ["ES256", "RS256"],
        "keys": [
            {"kid": ES_KID, "alg": "ES256", "published": True, "private_pem": pem(keys.es)},
            {"kid": RS_KID, "alg": "RS256", "published": True, "private_pem": pem(keys.rs)},
            {"kid": UNKNOWN_KID, "alg": "ES256", "published": False, "private_pem": pem(keys.unknown)},
        ],
        "jwks": {"keys": [keys.jwk(keys.es, ES_KID, "ES256"), keys.jwk(keys.rs, RS_KID, "RS256")]},
        "revocations": revocations,
        "cases": cases,
    }
    output.write_text(json.dumps(corpus, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("corpus.json"))
