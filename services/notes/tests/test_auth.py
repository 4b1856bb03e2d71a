"""Who may call the notes API: the bearer token only, checked by the kit
(docs/notes.md, "Authentication"). ``X-Auth-*`` headers are never trusted."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

IDENTITY_HEADERS = {"X-Auth-User-Id": "1", "X-Auth-Email": "user1@example.com", "X-Auth-Roles": "user",
                    "X-Auth-Permissions": "notes:read notes:write", "X-Auth-Session-Id": "sid-1"}


def assert_401(response, *, token_sent: bool):
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    challenge = response.headers["WWW-Authenticate"]
    if token_sent:
        assert challenge.startswith('Bearer realm="api", error="invalid_token"')
    else:
        assert challenge == 'Bearer realm="api"'


@pytest.mark.parametrize("method,path", [("GET", "/api/notes"), ("POST", "/api/notes"), ("GET", "/api/notes/1"),
                                         ("PATCH", "/api/notes/1"), ("DELETE", "/api/notes/1")])
def test_every_route_needs_a_token(client, method, path):
    assert_401(client.open(path, method=method, json={"title": "x"}), token_sent=False)


def test_identity_headers_alone_are_401(client):
    assert_401(client.get("/api/notes", headers=IDENTITY_HEADERS), token_sent=False)
    assert_401(client.post("/api/notes", json={"title": "x"}, headers=IDENTITY_HEADERS), token_sent=False)


def test_identity_headers_never_change_whose_notes_are_seen(client, auth):
    client.post("/api/notes", json={"title": "mine"}, headers=auth("1"))
    response = client.get("/api/notes", headers={**auth("2"), **IDENTITY_HEADERS})
    assert response.get_json() == {"notes": []}


def test_token_in_query_string_is_ignored(client, make_token):
    assert_401(client.get(f"/api/notes?access_token={make_token('1')}"), token_sent=False)


def test_bearer_scheme_is_case_insensitive(client, make_token):
    assert client.get("/api/notes", headers={"Authorization": f"bearer {make_token('1')}"}).status_code == 200


def test_reading_needs_notes_read_and_writing_needs_notes_write(client, auth):
    read_only = auth("1", permissions=["notes:read"])
    write_only = auth("1", permissions=["notes:write"])
    assert client.get("/api/notes", headers=read_only).status_code == 200
    for response in (client.post("/api/notes", json={"title": "x"}, headers=read_only),
                     client.get("/api/notes", headers=write_only),
                     client.get("/api/notes", headers=auth("1", permissions=[]))):
        assert response.status_code == 403
        assert response.get_json()["error"] == "insufficient_scope"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
    assert client.post("/api/notes", json={"title": "x"}, headers=write_only).status_code == 201


def test_forged_expired_and_foreign_tokens_are_401(client, make_token):
    other_key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    bad = {
        "signed with another key": make_token("1", key=other_key),
        "unknown kid": make_token("1", kid="nobody"),
        "expired": make_token("1", iat=now - 2000, exp=now - 1000),
        "wrong audience": make_token("1", aud="other-api"),
        "wrong issuer": make_token("1", iss="https://evil.example"),
        "wrong typ": make_token("1", headers={"typ": "JWT"}),
        "not a jwt": "not-a-token",
        "two segments": "abc.def",
        "tampered payload": (lambda t: t.split(".")[0] + ".eyJzdWIiOiIyIn0." + t.split(".")[2])(make_token("1")),
    }
    for why, token in bad.items():
        response = client.get("/api/notes", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, why
        assert response.get_json()["error"] == "invalid_token", why
        assert "Traceback" not in response.get_data(as_text=True)


def test_a_revoked_session_is_refused_after_the_next_poll(app, client, make_token, revocations):
    token = make_token("1", sid="session-a")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/notes", headers=headers).status_code == 200
    revocations.sessions["session-a"] = time.time()
    app.extensions["test_feed"].refresh_now()
    assert_401(client.get("/api/notes", headers=headers), token_sent=True)


def test_no_revocation_list_means_503_with_retry_after(settings_env, jwks, revocations, make_token):
    from authgw_kit import RevocationList, StaticKeys, TokenVerifier

    from conftest import AUDIENCE, ISSUER
    from notes import create_app

    revocations.failing = True
    feed = RevocationList(fetch=revocations, background=False)
    feed.refresh_now()
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=StaticKeys(jwks), revocations=feed)
    client = create_app(settings_env, verifier=verifier).test_client()
    response = client.get("/api/notes", headers={"Authorization": f"Bearer {make_token('1')}"})
    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0
