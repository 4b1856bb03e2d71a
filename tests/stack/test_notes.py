"""The example notes service (docs/notes.md) in the running stack.

Through the gateway and directly on its own port (``NOTES_PORT``, 8200 by
default): CRUD, privacy between users, the 401/403 paths, forged tokens,
logout refusing a token within 5 s, the size and shape limits. Real parts
only: the backend signs the tokens, the gateway and the service each check
them with their own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path

import pytest
import requests

from conftest import ADMIN_EMAIL
from stacklib import BASE_URL, ROOT, browser_login, stack, unique_email, wait_until

NOTES_URL = "http://127.0.0.1:%s" % os.environ.get("NOTES_PORT", "8200")
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "corpus.json"
STACK_DIR = Path(os.environ.get("STACK_DIR", ROOT / ".stack"))
IDENTITY_HEADERS = {"X-Auth-User-Id": "1", "X-Auth-Email": ADMIN_EMAIL, "X-Auth-Roles": "user,admin",
                    "X-Auth-Permissions": "notes:read,notes:write", "X-Auth-Session-Id": "x"}
BOTH = pytest.mark.parametrize("origin", ["gateway", "direct"])


@pytest.fixture(scope="module")
def notes_up(base_url):
    try:
        requests.get(f"{NOTES_URL}/healthz", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(f"the notes service is not up at {NOTES_URL} ({exc}); scripts/stack up starts it")
    return NOTES_URL


def url(origin: str, path: str) -> str:
    return f"{BASE_URL if origin == 'gateway' else NOTES_URL}{path}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload))), signature


def assert_error(response, status: int, code: str):
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    assert response.json()["error"] == code, response.text[:300]


def create(origin: str, login, title: str, body: str = "") -> dict:
    response = requests.post(url(origin, "/api/notes"), json={"title": title, "body": body}, headers=login.auth,
                             timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def titles(origin: str, login) -> list[str]:
    response = requests.get(url(origin, "/api/notes"), headers=login.auth, timeout=10)
    assert response.status_code == 200, response.text
    return [note["title"] for note in response.json()["notes"]]


@BOTH
def test_crud_of_own_notes(notes_up, origin):
    user = browser_login(unique_email("notes"))
    first = create(origin, user, "first", "one")
    second = create(origin, user, "second")
    assert titles(origin, user) == ["second", "first"]
    assert second["body"] == "" and second["created_at"].endswith("Z")

    note_url = url(origin, f"/api/notes/{first['id']}")
    assert requests.get(note_url, headers=user.auth, timeout=10).json() == first
    patched = requests.patch(note_url, json={"title": "first, edited"}, headers=user.auth, timeout=10)
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "first, edited" and patched.json()["body"] == "one"
    assert patched.json()["updated_at"] >= first["updated_at"]

    deleted = requests.delete(note_url, headers=user.auth, timeout=10)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(requests.get(note_url, headers=user.auth, timeout=10), 404, "not_found")
    assert titles(origin, user) == ["second"]


def test_the_gateway_and_the_service_see_the_same_notes(notes_up):
    user = browser_login(unique_email("notes"))
    create("gateway", user, "written through the gateway")
    assert titles("direct", user) == ["written through the gateway"]


@BOTH
def test_another_users_note_is_404_and_stays_unchanged(notes_up, origin):
    alice = browser_login(unique_email("alice"))
    bob = browser_login(unique_email("bob"))
    note = create(origin, alice, "alice's secret", "do not read")
    note_url = url(origin, f"/api/notes/{note['id']}")
    for method, body in (("GET", None), ("PATCH", {"title": "bob was here"}), ("DELETE", None)):
        response = requests.request(method, note_url, json=body, headers=bob.auth, timeout=10)
        assert_error(response, 404, "not_found")
        # Same answer as an id that does not exist: existence is not revealed.
        unknown = requests.request(method, url(origin, "/api/notes/2147483647"), json=body, headers=bob.auth,
                                   timeout=10)
        assert unknown.status_code == 404 and unknown.json() == response.json()
    assert titles(origin, bob) == []
    assert requests.get(note_url, headers=alice.auth, timeout=10).json() == note


@BOTH
def test_no_token_is_401_with_the_bearer_challenge(notes_up, origin):
    for method in ("GET", "POST"):
        response = requests.request(method, url(origin, "/api/notes"), json={"title": "x"}, timeout=10)
        assert_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api"')


def test_directly_on_its_port_identity_headers_alone_are_401(notes_up):
    victim = browser_login(unique_email("victim"))
    note = create("gateway", victim, "private")
    victim_id = requests.get(f"{BASE_URL}/api/me", headers=victim.auth, timeout=10).json()["id"]
    headers = {**IDENTITY_HEADERS, "X-Auth-User-Id": victim_id}
    for method, path in (("GET", "/api/notes"), ("POST", "/api/notes"), ("GET", f"/api/notes/{note['id']}"),
                         ("DELETE", f"/api/notes/{note['id']}")):
        response = requests.request(method, f"{NOTES_URL}{path}", json={"title": "x"}, headers=headers, timeout=10)
        assert_error(response, 401, "invalid_token")
    assert titles("direct", victim) == ["private"]


def test_identity_headers_sent_through_the_gateway_do_not_change_the_owner(notes_up):
    alice = browser_login(unique_email("alice"))
    bob = browser_login(unique_email("bob"))
    create("gateway", alice, "alice only")
    alice_id = requests.get(f"{BASE_URL}/api/me", headers=alice.auth, timeout=10).json()["id"]
    response = requests.get(f"{BASE_URL}/api/notes", headers={**bob.auth, **IDENTITY_HEADERS, "X-Auth-User-Id": alice_id},
                            timeout=10)
    assert response.status_code == 200 and response.json() == {"notes": []}


def _forgeries(token: str) -> dict[str, str]:
    header, payload, signature = segments(token)
    other = {**payload, "sub": "1", "permissions": ["notes:read", "notes:write", "users:write"]}
    forged = {
        "payload edited (sub)": f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(other).encode())}.{signature}",
        "alg none": f"{b64url(json.dumps({**header, 'alg': 'none'}).encode())}.{b64url(json.dumps(payload).encode())}.",
        "signature cut": token[: -10],
    }
    # HS256 with the public JWK Set as the shared secret (key confusion).
    jwks = requests.get(f"{BASE_URL}/.well-known/jwks.json", timeout=10).content
    hs_header = b64url(json.dumps({**header, "alg": "HS256"}).encode())
    hs_payload = b64url(json.dumps(payload).encode())
    mac = hmac.new(jwks, f"{hs_header}.{hs_payload}".encode(), hashlib.sha256).digest()
    forged["HS256 with the JWK Set as secret"] = f"{hs_header}.{hs_payload}.{b64url(mac)}"
    # Unsigned edits of the header keep the original signature, which then no longer verifies.
    past = {**payload, "iat": payload["iat"] - 4000, "exp": payload["exp"] - 4000}
    forged["exp moved into the past"] = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(past).encode())}.{signature}"
    forged["typ JWT"] = f"{b64url(json.dumps({**header, 'typ': 'JWT'}).encode())}.{token.split('.', 1)[1]}"
    forged["jku header"] = f"{b64url(json.dumps({**header, 'jku': 'https://evil.example/jwks'}).encode())}.{token.split('.', 1)[1]}"
    # Hostile JSON in the JOSE header, the whole token still under the 8192-byte limit.
    forged["5000 brackets in the header"] = f"{b64url(b'[' * 5000)}.{token.split('.', 2)[1]}.{signature}"
    return forged


@BOTH
def test_forged_tokens_are_401_invalid_token(notes_up, origin):
    user = browser_login(unique_email("forger"))
    for why, token in _forgeries(user.access_token).items():
        response = requests.get(url(origin, "/api/notes"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 401, (why, response.status_code)
        assert response.json()["error"] == "invalid_token", why
    # The genuine token still works.
    assert requests.get(url(origin, "/api/notes"), headers=user.auth, timeout=10).status_code == 200


@pytest.mark.skipif(not CORPUS.exists(), reason="tests/corpus/corpus.json not generated")
@BOTH
def test_corpus_forgeries_are_401_never_5xx(notes_up, origin):
    cases = [case for case in json.loads(CORPUS.read_text())["cases"] if case["verdict"] == "invalid_token"]
    assert cases
    for case in cases:
        try:
            case["token"].encode("latin-1")
        except UnicodeEncodeError:
            continue
        response = requests.get(url(origin, "/api/notes"), headers={"Authorization": f"Bearer {case['token']}"},
                                timeout=10)
        if len(case["token"]) > 8192:
            # Too big to be a token; a proxy may refuse the header itself: any JSON 4xx.
            assert 400 <= response.status_code < 500 and response.json()["error"], (case["name"], response.text[:200])
            continue
        assert response.status_code == 401, (case["name"], response.status_code, response.text[:200])
        assert response.json()["error"] == "invalid_token", case["name"]


def test_after_logout_the_token_is_refused_within_5_seconds_by_gateway_and_service(notes_up):
    user = browser_login(unique_email("leaving"))
    for origin in ("gateway", "direct"):
        assert requests.get(url(origin, "/api/notes"), headers=user.auth, timeout=10).status_code == 200
    logout = user.session.post(f"{BASE_URL}/api/auth/logout", headers={**user.auth, "Origin": BASE_URL}, timeout=10)
    assert logout.status_code == 204, logout.text

    # Every worker of the service polls the revocation feed on its own, so
    # "refused" means: several requests in a row, landing on any worker.
    def refused_everywhere():
        return all(requests.get(url(origin, "/api/notes"), headers=user.auth, timeout=10).status_code == 401
                   for origin in ("direct", "gateway") for _ in range(6))

    ok, seconds = wait_until(refused_everywhere, timeout=5, interval=0.2)
    assert ok and seconds <= 5, f"the token of a signed-out session still worked after {seconds:.1f} s"
    response = requests.get(f"{NOTES_URL}/api/notes", headers=user.auth, timeout=10)
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


@BOTH
def test_bodies_over_1_mb_are_413_json_and_store_nothing(notes_up, origin):
    user = browser_login(unique_email("big"))
    big = json.dumps({"title": "big", "body": "x" * (1024 * 1024 + 10)})
    response = requests.post(url(origin, "/api/notes"), data=big,
                             headers={**user.auth, "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413, response.status_code
    assert response.headers["Content-Type"].startswith("application/json")
    # One code whoever refused it: the gateway (its body limit) or notes.
    assert response.json()["error"] == "request_too_large", response.text
    # The same body chunked (no Content-Length: the limit is hit while reading).
    chunks = (big[i:i + 65536].encode() for i in range(0, len(big), 65536))
    response = requests.post(url(origin, "/api/notes"), data=chunks,
                             headers={**user.auth, "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413, response.status_code
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    assert response.json()["error"] == "request_too_large", response.text
    assert titles(origin, user) == []


@BOTH
def test_bad_input_is_400_invalid_request_and_stores_nothing(notes_up, origin):
    user = browser_login(unique_email("bad"))
    bodies = [{}, {"title": ""}, {"title": "x" * 201}, {"title": 7}, {"title": "ok", "body": "b" * 10_001},
              {"title": "ok", "body": None}, {"title": "ok", "owner": "1"}, ["title"]]
    for body in bodies:
        response = requests.post(url(origin, "/api/notes"), json=body, headers=user.auth, timeout=10)
        assert_error(response, 400, "invalid_request")
    for data, content_type in (("title=x", "application/x-www-form-urlencoded"), ("{", "application/json"),
                               ("[" * 5000, "application/json")):
        response = requests.post(url(origin, "/api/notes"), data=data,
                                 headers={**user.auth, "Content-Type": content_type}, timeout=10)
        assert_error(response, 400, "invalid_request")
    assert titles(origin, user) == []
    # The limits themselves are fine.
    create(origin, user, "t" * 200, "b" * 10_000)


@pytest.fixture(scope="module")
def reader_only_token(notes_up):
    """An access token holding notes:read but not notes:write: a service account (docs/notes.md)."""
    admin = browser_login(ADMIN_EMAIL)
    role = f"notes-reader-{os.getpid()}"
    created = requests.post(f"{BASE_URL}/api/admin/roles", json={"name": role, "description": "reads notes",
                                                                 "permissions": ["notes:read"]},
                            headers=admin.auth, timeout=10)
    assert created.status_code in (201, 409), created.text
    account = requests.post(f"{BASE_URL}/api/admin/service-accounts", json={"name": role, "roles": [role]},
                            headers=admin.auth, timeout=10)
    if account.status_code == 404:
        pytest.skip("service accounts (POST /api/admin/service-accounts) are not in this build")
    assert account.status_code == 201, account.text
    grant = requests.post(f"{BASE_URL}/api/auth/token", data={"grant_type": "client_credentials"},
                          auth=(account.json()["client_id"], account.json()["client_secret"]), timeout=10)
    assert grant.status_code == 200, grant.text
    token = grant.json()["access_token"]
    assert "notes:write" not in segments(token)[1]["permissions"]
    return token


@BOTH
def test_a_token_without_notes_write_gets_403_insufficient_scope(reader_only_token, origin):
    headers = {"Authorization": f"Bearer {reader_only_token}"}
    assert requests.get(url(origin, "/api/notes"), headers=headers, timeout=10).status_code == 200
    for method, path in (("POST", "/api/notes"), ("PATCH", "/api/notes/1"), ("DELETE", "/api/notes/1")):
        response = requests.request(method, url(origin, path), json={"title": "x"}, headers=headers, timeout=10)
        assert_error(response, 403, "insufficient_scope")
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')


def test_health_is_on_the_service_port_only(notes_up):
    assert requests.get(f"{NOTES_URL}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{NOTES_URL}/readyz", timeout=5).json() == {"status": "ok"}
    # Through the gateway only /api/notes reaches the service, and it needs a token.
    assert_error(requests.get(f"{BASE_URL}/api/notes/healthz", timeout=5), 401, "invalid_token")


def _accepted_everywhere(token: str):
    headers = {"Authorization": f"Bearer {token}"}
    return lambda: all(requests.get(url(origin, "/api/notes"), headers=headers, timeout=10).status_code == 200
                       for origin in ("direct", "gateway") for _ in range(6))


def test_a_rotated_key_is_accepted_by_the_running_service_without_a_restart(notes_up, tmp_path):
    """A second key published by the backend: tokens it signs work at once, old tokens keep working."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    current = STACK_DIR / "secrets" / "jwt-signing-key.pem"
    if os.environ.get("JWT_PRIVATE_KEY_FILE") or os.environ.get("JWT_ALGORITHM", "ES256") != "ES256" or \
            not current.is_file():
        pytest.skip("the stack does not use its generated ES256 key file")
    before = browser_login(unique_email("before-rotation"))
    old_kid = segments(before.access_token)[0]["kid"]
    new_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    rotated = STACK_DIR / "secrets" / "jwt-rotation-test.pem"
    rotated.touch(mode=0o600)
    rotated.write_bytes(new_key + current.read_bytes())  # the first key signs; the old one stays published
    try:
        stack("restart", "backend", env={"JWT_PRIVATE_KEY_FILE": str(rotated)})
        wait_until(lambda: requests.get(f"{BASE_URL}/api/health/ready", timeout=5).status_code == 200, timeout=60)
        after = browser_login(unique_email("after-rotation"))
        assert segments(after.access_token)[0]["kid"] != old_kid
        # The notes service was not restarted: an unknown kid makes the kit fetch the JWK Set again.
        ok, _ = wait_until(_accepted_everywhere(after.access_token), timeout=15, interval=0.5)
        if not ok:
            headers = {"Authorization": f"Bearer {after.access_token}"}
            statuses = {origin: [requests.get(url(origin, "/api/notes"), headers=headers, timeout=10).status_code
                                 for _ in range(6)] for origin in ("direct", "gateway")}
            pytest.fail(f"a token signed with the new key is still refused: {statuses}")
        assert _accepted_everywhere(before.access_token)(), "a token of the previous key is refused"
    finally:
        stack("restart", "backend")
        rotated.unlink(missing_ok=True)
        wait_until(lambda: requests.get(f"{BASE_URL}/api/health/ready", timeout=5).status_code == 200, timeout=60)


def _timed_get(origin: str, login) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url(origin, "/api/notes"), headers=login.auth, timeout=15)
    return response, time.monotonic() - started


def test_a_hung_database_gives_503_within_3_seconds_and_notes_recover(notes_up):
    user = browser_login(unique_email("outage"))
    create("direct", user, "survives the outage")
    stack("freeze", "db")
    try:
        for origin in ("direct", "gateway") * 3:
            response, seconds = _timed_get(origin, user)
            assert response.status_code == 503, (origin, f"{seconds:.1f} s", response.text[:200])
            assert_error(response, 503, "service_unavailable")
            assert response.headers["Retry-After"], origin
            assert seconds <= 3.0, f"{origin}: answered after {seconds:.1f} s"
        # The process itself is fine; readiness says the database is not.
        assert requests.get(f"{NOTES_URL}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{NOTES_URL}/readyz", timeout=10).status_code == 503
    finally:
        stack("thaw", "db")
    back, seconds = wait_until(lambda: requests.get(f"{NOTES_URL}/api/notes", headers=user.auth,
                                                    timeout=10).status_code == 200, timeout=10)
    assert back and seconds <= 5, f"notes did not recover within 5 s ({seconds:.1f} s)"
    assert titles("gateway", user) == ["survives the outage"]
    # The backend shares the database server: a request that reads it works again within 5 s too.
    ready, seconds = wait_until(lambda: requests.get(f"{BASE_URL}/api/me", headers=user.auth,
                                                     timeout=10).status_code == 200, timeout=10)
    assert ready and seconds <= 5, f"the backend did not recover within 5 s ({seconds:.1f} s)"


def test_notes_keep_answering_while_the_backend_is_hung(notes_up):
    user = browser_login(unique_email("independent"))
    create("direct", user, "no backend needed")
    stack("freeze", "backend")
    try:
        for origin in ("direct", "gateway"):
            for _ in range(3):
                response, seconds = _timed_get(origin, user)
                assert response.status_code == 200, (origin, response.status_code, response.text[:200])
                assert seconds < 1.5, f"{origin}: answered after {seconds:.1f} s"
        assert titles("direct", user) == ["no backend needed"]
    finally:
        stack("thaw", "backend")
