"""The shared corpus (tests/corpus/corpus.json): the kit gives every case its verdict."""

from __future__ import annotations

import json

import pytest

from authgw_kit import RevocationList, StaticKeys, TokenError, TokenVerifier, decode_access_token
from authgw_kit.revocations import RevocationSnapshot

from .conftest import CORPUS_FILE

CASES = json.loads(CORPUS_FILE.read_text())["cases"]


def verdict_of(call) -> str:
    try:
        call()
    except TokenError as error:
        assert error.status == 401, error
        return error.error
    return "valid"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_kit_gives_each_corpus_case_its_verdict(corpus, case):
    verifier = TokenVerifier(issuer=corpus["issuer"], audience=corpus["audience"],
                             keys=StaticKeys(corpus["jwks"], algorithms=corpus["algorithms"]),
                             revocations=RevocationList(fetch=lambda: corpus["revocations"], background=False),
                             leeway=corpus["leeway"], clock=lambda: corpus["now"])
    assert verdict_of(lambda: verifier.verify(case["token"])) == case["verdict"], case["why"]
    # A second call is answered from the cache (valid tokens): same verdict.
    assert verdict_of(lambda: verifier.verify(case["token"])) == case["verdict"], case["why"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pure_decode_plus_revocation_rules_give_the_same_verdicts(corpus, case):
    keys = StaticKeys(corpus["jwks"], algorithms=corpus["algorithms"])
    snapshot = RevocationSnapshot.parse(corpus["revocations"])

    def check():
        claims = decode_access_token(case["token"], keys, issuer=corpus["issuer"], audience=corpus["audience"],
                                     leeway=corpus["leeway"], now=corpus["now"])
        if case["stage"] == "token":
            assert snapshot.refusal(claims) is None
        elif snapshot.refusal(claims):
            raise TokenError()

    assert verdict_of(check) == case["verdict"], case["why"]


def test_corpus_covers_every_category(corpus):
    names = {c["name"] for c in corpus["cases"]}
    assert {"valid_es256", "valid_client_id", "alg_none", "unknown_kid", "header_hostile_nesting",
            "payload_hostile_nesting", "oversized", "revoked_session", "role_not_before_before_iat"} <= names
    assert {c["verdict"] for c in corpus["cases"]} == {"valid", "invalid_token"}
    assert all(c["stage"] in ("token", "revocation") for c in corpus["cases"])
