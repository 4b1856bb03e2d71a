"""The shared token corpus (tests/corpus/corpus.json) through the notes app.

The kit has its own corpus test; this one checks the service's wiring:
every ``invalid_token`` case is a JSON 401 with the RFC 6750 challenge,
every ``valid`` case gets past the token check (200, or 403 when the token
lacks ``notes:read``), and no case gives a 5xx.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authgw_kit import RevocationList, StaticKeys, TokenVerifier

from notes import create_app
from notes.database import upgrade

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "corpus.json"


def _cases():
    if not CORPUS.exists():
        return []
    return json.loads(CORPUS.read_text())["cases"]


@pytest.fixture(scope="module")
def corpus_client(tmp_path_factory):
    corpus = json.loads(CORPUS.read_text())
    env = {
        "NOTES_DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'notes.db'}",
        "AUTHGW_ISSUER": corpus["issuer"],
        "AUTHGW_AUDIENCE": corpus["audience"],
        "AUTHGW_JWKS_URL": "http://127.0.0.1:9/jwks",
        "AUTHGW_REVOCATIONS_URL": "http://127.0.0.1:9/revocations",
    }
    upgrade(env["NOTES_DATABASE_URL"])
    feed = RevocationList(fetch=lambda: corpus["revocations"], background=False)
    feed.refresh_now()
    verifier = TokenVerifier(issuer=corpus["issuer"], audience=corpus["audience"],
                             keys=StaticKeys(corpus["jwks"], algorithms=corpus["algorithms"]), revocations=feed,
                             algorithms=corpus["algorithms"], leeway=corpus["leeway"], clock=lambda: corpus["now"])
    return create_app(env, verifier=verifier).test_client()


@pytest.mark.skipif(not CORPUS.exists(), reason="tests/corpus/corpus.json not generated")
@pytest.mark.parametrize("case", _cases(), ids=lambda case: case["name"])
def test_corpus_verdicts_hold_through_the_service(corpus_client, case):
    try:
        case["token"].encode("latin-1")
    except UnicodeEncodeError:
        pytest.skip("not sendable as an HTTP header value")
    response = corpus_client.get("/api/notes", headers={"Authorization": f"Bearer {case['token']}"})
    assert response.status_code < 500, response.get_data(as_text=True)[:200]
    assert response.is_json
    if case["verdict"] == "valid":
        assert response.status_code in (200, 403), (case["why"], response.get_json())
    else:
        assert response.status_code == 401, case["why"]
        assert response.get_json()["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api"')
