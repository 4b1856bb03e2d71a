"""Machine clients through the gateway (docs/machine-clients.md): a service
account gets a token with the client credentials grant, as curl would send
it, and the gateway, the backend and the notes service accept it; rotating
the secret or deleting the account refuses its tokens within 5 s at all of
them; failed client authentication is rate limited (Redis counters shared
by every backend worker). Real MariaDB, Redis, nginx + Lua, gunicorn."""

from __future__ import annotations

import base64
import uuid

import requests

from conftest import ADMIN_EMAIL
from stacklib import wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def create_account(base_url, admin, roles=("user",)) -> dict:
    response = requests.post(f"{base_url}/api/admin/service-accounts",
                             json={"name": f"stack-{uuid.uuid4().hex[:8]}", "roles": list(roles)},
                             headers=admin.auth, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def curl_basic(client_id: str, secret: str) -> dict:
    """What ``curl -u id:secret`` sends."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def get_token(base_url, account) -> str:
    # curl -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials $URL/api/auth/token
    response = requests.post(f"{base_url}/api/auth/token", data="grant_type=client_credentials",
                             headers={**FORM, **curl_basic(account["client_id"], account["client_secret"])}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer" and "refresh_token" not in body
    return body["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_metadata_names_the_token_endpoint(base_url):
    response = requests.get(f"{base_url}/.well-known/oauth-authorization-server", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["token_endpoint"] == f"{base_url}/api/auth/token"
    assert body["jwks_uri"] == f"{base_url}/.well-known/jwks.json"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert requests.get(body["jwks_uri"], timeout=10).status_code == 200


def test_a_client_token_is_accepted_by_the_gateway_the_backend_and_the_notes_service(base_url, admin):
    account = create_account(base_url, admin)
    token = get_token(base_url, account)
    ping = requests.get(f"{base_url}/api/ping", headers=bearer(token), timeout=10)
    assert ping.status_code == 200 and ping.json()["sub"] == account["client_id"]
    me = requests.get(f"{base_url}/api/me", headers=bearer(token), timeout=10)
    assert me.status_code == 200
    assert me.json()["id"] == account["client_id"] and me.json()["email"] is None
    whoami = requests.get(f"{base_url}/api/whoami", headers=bearer(token), timeout=10).json()
    assert whoami["gateway_headers"]["X-Auth-User-Id"] == account["client_id"]
    assert whoami["session_id"] == f"client:{account['client_id']}"
    notes = requests.get(f"{base_url}/api/notes", headers=bearer(token), timeout=10)
    assert notes.status_code == 200, notes.text
    # client_secret_post works the same way.
    posted = requests.post(f"{base_url}/api/auth/token", data={"grant_type": "client_credentials",
                                                               "client_id": account["client_id"],
                                                               "client_secret": account["client_secret"]}, timeout=10)
    assert posted.status_code == 200


def test_token_endpoint_errors_follow_rfc_6749(base_url, admin):
    account = create_account(base_url, admin)
    url = f"{base_url}/api/auth/token"
    wrong = requests.post(url, data={"grant_type": "client_credentials"},
                          headers=curl_basic(account["client_id"], "not-the-secret"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="api"'
    assert wrong.headers["Cache-Control"] == "no-store"
    password = requests.post(url, data={"grant_type": "password", "username": ADMIN_EMAIL, "password": "x"},
                             timeout=10)
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    as_json = requests.post(url, json={"grant_type": "client_credentials"},
                            headers=curl_basic(account["client_id"], account["client_secret"]), timeout=10)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    both = requests.post(url, data={"grant_type": "client_credentials", "client_secret": account["client_secret"]},
                         headers=curl_basic(account["client_id"], account["client_secret"]), timeout=10)
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_deleting_the_account_refuses_its_token_within_5s_everywhere(base_url, admin):
    account = create_account(base_url, admin)
    token = get_token(base_url, account)
    assert requests.get(f"{base_url}/api/notes", headers=bearer(token), timeout=10).status_code == 200
    deleted = requests.delete(f"{base_url}/api/admin/service-accounts/{account['client_id']}", headers=admin.auth,
                              timeout=10)
    assert deleted.status_code == 204
    for path in ("/api/ping", "/api/notes"):
        refused, seconds = wait_until(
            lambda: requests.get(f"{base_url}{path}", headers=bearer(token), timeout=10).status_code == 401, timeout=6)
        assert refused and seconds <= 5.0, f"{path}: deleted client's token still accepted after {seconds:.1f} s"
    again = requests.post(f"{base_url}/api/auth/token", data={"grant_type": "client_credentials"},
                          headers=curl_basic(account["client_id"], account["client_secret"]), timeout=10)
    assert again.status_code == 401


def test_rotating_the_secret_stops_the_old_one_and_its_tokens(base_url, admin):
    account = create_account(base_url, admin)
    old_token = get_token(base_url, account)
    rotated = requests.post(f"{base_url}/api/admin/service-accounts/{account['client_id']}/secret",
                            headers=admin.auth, timeout=10)
    assert rotated.status_code == 200
    old_secret = requests.post(f"{base_url}/api/auth/token", data={"grant_type": "client_credentials"},
                               headers=curl_basic(account["client_id"], account["client_secret"]), timeout=10)
    assert old_secret.status_code == 401
    refused, seconds = wait_until(
        lambda: requests.get(f"{base_url}/api/ping", headers=bearer(old_token), timeout=10).status_code == 401,
        timeout=6)
    assert refused and seconds <= 5.0, f"old token still accepted after {seconds:.1f} s"
    new_token = get_token(base_url, {**account, "client_secret": rotated.json()["client_secret"]})
    assert requests.get(f"{base_url}/api/ping", headers=bearer(new_token), timeout=10).status_code == 200


def test_a_user_without_service_accounts_write_cannot_create_one(base_url, signed_in):
    response = requests.post(f"{base_url}/api/admin/service-accounts", json={"name": "x", "roles": []},
                             headers=signed_in.auth, timeout=10)
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"


def test_failed_client_authentication_is_rate_limited_per_client(base_url, admin):
    account = create_account(base_url, admin, roles=())
    statuses = []
    for n in range(12):
        response = requests.post(f"{base_url}/api/auth/token", data={"grant_type": "client_credentials"},
                                 headers=curl_basic(account["client_id"], f"guess-{n}"), timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["error"] == "rate_limited" and int(response.headers["Retry-After"]) > 0
            break
    assert statuses == [401] * 10 + [429], statuses
    # Past the limit even the right secret waits; another client does not.
    blocked = requests.post(f"{base_url}/api/auth/token", data={"grant_type": "client_credentials"},
                            headers=curl_basic(account["client_id"], account["client_secret"]), timeout=10)
    assert blocked.status_code == 429
    other = create_account(base_url, admin, roles=())
    get_token(base_url, other)
