"""Service accounts and the client credentials grant (docs/machine-clients.md):
the token endpoint's answers and errors (RFC 6749 §2.3.1, §4.4, §5.1-5.2),
the tokens it issues (RFC 9068 §2.2), rotation and deletion, the rate limit,
RFC 8414 metadata, the admin API with its no-escalation rule, and the CLI."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus

import jwt
import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AuditEvent, ServiceAccount
from authgw.service_accounts import CLIENT_ID_PATTERN, hash_client_secret

from .conftest import PUBLIC_URL
from .test_admin import assert_error

TOKEN = "/api/auth/token"
FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> dict:
    """``client_secret_basic``: id and secret form-urlencoded, then base64 (RFC 6749 §2.3.1)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def account(client, signed_in_admin):
    """A service account with the built-in ``user`` role, created through the API."""
    response = client.post("/api/admin/service-accounts", json={"name": "nightly report", "roles": ["user"]},
                           headers=signed_in_admin.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def token_for(client, account) -> str:
    response = client.post(TOKEN, data={"grant_type": "client_credentials"},
                           headers=basic(account["client_id"], account["client_secret"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["access_token"]


def refused_within_five_seconds(client, token: str) -> None:
    started = time.monotonic()
    while client.get("/api/ping", headers={"Authorization": f"Bearer {token}"}).status_code == 200:
        assert time.monotonic() - started < 5, "client token still accepted 5 s later"
        time.sleep(0.1)
    assert_error(client.get("/api/ping", headers={"Authorization": f"Bearer {token}"}), 401, "invalid_token")


def assert_token_error(response, status: int, code: str):
    assert_error(response, status, code)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


# -- creating and listing ----------------------------------------------------------


def test_create_answers_201_with_the_secret_once_and_stores_only_its_hash(app, client, signed_in_admin, account):
    assert set(account) == {"client_id", "client_secret", "name", "roles", "created_at"}
    assert CLIENT_ID_PATTERN.match(account["client_id"])
    assert len(base64.urlsafe_b64decode(account["client_secret"] + "=")) >= 32  # 256 bits
    assert account["name"] == "nightly report" and account["roles"] == ["user"]
    with app.app_context():
        row = _db.session.execute(sa.select(ServiceAccount)).scalar_one()
        assert row.secret_hash == hash_client_secret(account["client_secret"])
        assert account["client_secret"] not in row.secret_hash
    listing = client.get("/api/admin/service-accounts", headers=signed_in_admin.auth)
    assert listing.status_code == 200
    (listed,) = listing.get_json()["service_accounts"]
    assert listed["client_id"] == account["client_id"] and "client_secret" not in listed
    assert account["client_secret"] not in listing.get_data(as_text=True)


def test_create_refuses_bad_bodies(client, signed_in_admin):
    for body, field in (({"roles": []}, "name"), ({"name": "", "roles": []}, "name"),
                        ({"name": "x", "roles": "user"}, "roles"), ({"name": "x", "roles": ["ghost"]}, "roles"),
                        ({"name": "x", "extra": 1}, "extra")):
        assert_error(client.post("/api/admin/service-accounts", json=body, headers=signed_in_admin.auth),
                     400, "invalid_request", field)


def test_managing_service_accounts_needs_service_accounts_write(client, signed_in_with, account):
    reader = signed_in_with("users:read", "users:write", "roles:write")
    for method, path in (("get", "/api/admin/service-accounts"), ("post", "/api/admin/service-accounts"),
                         ("post", f"/api/admin/service-accounts/{account['client_id']}/secret"),
                         ("delete", f"/api/admin/service-accounts/{account['client_id']}")):
        response = getattr(client, method)(path, json={"name": "x"}, headers=reader.auth)
        assert_error(response, 403, "insufficient_scope")


def test_the_caller_must_hold_every_permission_of_the_roles_it_hands_out(app, client, signed_in_with):
    manager = signed_in_with("service_accounts:write", "notes:read", "notes:write")
    assert client.post("/api/admin/service-accounts", json={"name": "notes bot", "roles": ["user"]},
                       headers=manager.auth).status_code == 201
    response = client.post("/api/admin/service-accounts", json={"name": "root bot", "roles": ["admin"]},
                           headers=manager.auth)
    assert_error(response, 403, "insufficient_scope")
    with app.app_context():
        event = _db.session.execute(sa.select(AuditEvent).where(AuditEvent.event == "escalation_refused")).scalar_one()
        assert event.details["operation"] == "create_service_account" and "users:write" in event.details["missing"]
        assert _db.session.execute(sa.select(sa.func.count()).select_from(ServiceAccount)).scalar_one() == 1


def test_a_manager_cannot_rotate_or_delete_an_account_holding_more_than_it(client, signed_in_admin, signed_in_with):
    strong = client.post("/api/admin/service-accounts", json={"name": "admin bot", "roles": ["admin"]},
                         headers=signed_in_admin.auth).get_json()
    manager = signed_in_with("service_accounts:write")
    for method, path in (("post", f"/api/admin/service-accounts/{strong['client_id']}/secret"),
                         ("delete", f"/api/admin/service-accounts/{strong['client_id']}")):
        assert_error(getattr(client, method)(path, headers=manager.auth), 403, "insufficient_scope")
    token_for(client, strong)  # the secret still works


def test_unknown_client_ids_are_404(client, signed_in_admin):
    for path in ("/api/admin/service-accounts/sa_AAAAAAAAAAAAAAAA/secret", "/api/admin/service-accounts/nope/secret"):
        assert_error(client.post(path, headers=signed_in_admin.auth), 404, "not_found")
    assert_error(client.delete("/api/admin/service-accounts/sa_AAAAAAAAAAAAAAAA", headers=signed_in_admin.auth),
                 404, "not_found")


# -- the token endpoint --------------------------------------------------------------


def test_client_secret_basic_issues_a_normal_access_token_without_refresh_token(app, client, account):
    response = client.post(TOKEN, data={"grant_type": "client_credentials"},
                           headers=basic(account["client_id"], account["client_secret"]))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == claims["client_id"] == account["client_id"]
    assert claims["sid"] == f"client:{account['client_id']}"
    assert claims["email"] == "" and claims["name"] == "nightly report"
    assert claims["roles"] == ["user"] and claims["permissions"] == ["notes:read", "notes:write"]
    assert claims["exp"] - claims["iat"] == 600 and claims["iss"] == PUBLIC_URL


def test_client_secret_post_works_too(client, account):
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": account["client_id"],
                                        "client_secret": account["client_secret"]})
    assert response.status_code == 200
    assert claims_of(response.get_json()["access_token"])["client_id"] == account["client_id"]


def test_the_token_ttl_is_its_own_setting(make_app, provider):
    app = make_app(CLIENT_CREDENTIALS_TOKEN_TTL=120)
    client = app.test_client()
    from authgw.service_accounts import create_service_account
    with app.app_context():
        row, secret = create_service_account({"name": "short", "roles": []}, None)
        _db.session.commit()
        client_id = row.client_id
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert response.get_json()["expires_in"] == 120
    claims = claims_of(response.get_json()["access_token"])
    assert claims["exp"] - claims["iat"] == 120 and claims["permissions"] == []


def test_the_client_token_is_accepted_by_protected_routes(client, account):
    token = token_for(client, account)
    auth = {"Authorization": f"Bearer {token}"}
    ping = client.get("/api/ping", headers=auth)
    assert ping.status_code == 200 and ping.get_json()["sub"] == account["client_id"]
    me = client.get("/api/me", headers=auth)
    assert me.status_code == 200
    assert me.get_json() == {"id": account["client_id"], "email": None, "name": "nightly report", "picture": None,
                             "roles": ["user"], "permissions": ["notes:read", "notes:write"]}
    assert_error(client.get("/api/auth/sessions", headers=auth), 403, "insufficient_scope")
    assert_error(client.post("/api/auth/logout-all", headers=auth), 403, "insufficient_scope")
    assert_error(client.get("/api/admin/users", headers=auth), 403, "insufficient_scope")


def test_a_client_holding_admin_may_use_the_admin_api(app, client, signed_in_admin):
    strong = client.post("/api/admin/service-accounts", json={"name": "provisioner", "roles": ["admin"]},
                         headers=signed_in_admin.auth).get_json()
    auth = {"Authorization": f"Bearer {token_for(client, strong)}"}
    assert client.get("/api/admin/users", headers=auth).status_code == 200
    child = client.post("/api/admin/service-accounts", json={"name": "child", "roles": ["user"]}, headers=auth)
    assert child.status_code == 201
    with app.app_context():
        event = _db.session.execute(sa.select(AuditEvent).where(
            AuditEvent.event == "service_account_created", AuditEvent.actor_id.is_(None))).scalar_one()
        assert event.details["actor_client_id"] == strong["client_id"]
        assert event.details["client_id"] == child.get_json()["client_id"]


def test_wrong_or_missing_client_authentication_is_401_invalid_client(client, account):
    cases = [
        ({"grant_type": "client_credentials"}, basic(account["client_id"], "wrong")),
        ({"grant_type": "client_credentials"}, basic("sa_AAAAAAAAAAAAAAAA", account["client_secret"])),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic !!!not-base64"}),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}),
        ({"grant_type": "client_credentials", "client_id": account["client_id"], "client_secret": "wrong"}, {}),
        ({"grant_type": "client_credentials", "client_id": account["client_id"]}, {}),
        ({"grant_type": "client_credentials"}, {}),
    ]
    for data, headers in cases:
        response = client.post(TOKEN, data=data, headers=headers)
        assert_token_error(response, 401, "invalid_client")
        assert response.headers["WWW-Authenticate"] == 'Basic realm="api"'


def test_failed_client_authentication_is_audited_without_the_secret(app, client, account):
    client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(account["client_id"], "guess-1"))
    with app.app_context():
        event = _db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.event == "client_authentication_failed")).scalar_one()
        assert event.details == {"client_id": account["client_id"], "method": "client_secret_basic"}


def test_both_authentication_methods_at_once_is_400_invalid_request(client, account):
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "client_secret": account["client_secret"]},
                           headers=basic(account["client_id"], account["client_secret"]))
    assert_token_error(response, 400, "invalid_request")


def test_missing_grant_type_or_a_non_form_body_is_400_invalid_request(client, account):
    auth = basic(account["client_id"], account["client_secret"])
    assert_token_error(client.post(TOKEN, data={}, headers=auth), 400, "invalid_request")
    assert_token_error(client.post(TOKEN, json={"grant_type": "client_credentials"}, headers=auth),
                       400, "invalid_request")
    assert_token_error(client.post(TOKEN, data="grant_type=client_credentials", headers=auth,
                                   content_type="text/plain"), 400, "invalid_request")
    repeated = client.post(TOKEN, data="grant_type=client_credentials&grant_type=client_credentials",
                           headers=auth, content_type=FORM)
    assert_token_error(repeated, 400, "invalid_request")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "implicit", "x"])
def test_other_grant_types_are_400_unsupported_grant_type(client, account, grant_type):
    response = client.post(TOKEN, data={"grant_type": grant_type, "username": "a@example.test", "password": "p"},
                           headers=basic(account["client_id"], account["client_secret"]))
    assert_token_error(response, 400, "unsupported_grant_type")


def test_a_scope_parameter_is_400_invalid_scope(client, account):
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "notes:read"},
                           headers=basic(account["client_id"], account["client_secret"]))
    assert_token_error(response, 400, "invalid_scope")


def test_get_on_the_token_endpoint_is_405_and_not_cached(client):
    response = client.get(TOKEN)
    assert response.status_code == 405
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"


# -- rotation and deletion ---------------------------------------------------------


def test_rotation_stops_the_old_secret_at_once_and_refuses_old_tokens(client, signed_in_admin, account):
    old_token = token_for(client, account)
    response = client.post(f"/api/admin/service-accounts/{account['client_id']}/secret", headers=signed_in_admin.auth)
    assert response.status_code == 200 and set(response.get_json()) == {"client_secret"}
    new_secret = response.get_json()["client_secret"]
    assert new_secret != account["client_secret"]
    assert_token_error(client.post(TOKEN, data={"grant_type": "client_credentials"},
                                   headers=basic(account["client_id"], account["client_secret"])), 401, "invalid_client")
    refused_within_five_seconds(client, old_token)
    fresh = token_for(client, {**account, "client_secret": new_secret})
    assert client.get("/api/ping", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_a_second_rotation_within_one_second_refuses_the_tokens_of_the_first_secret(client, signed_in_admin, account):
    rotate = lambda: client.post(f"/api/admin/service-accounts/{account['client_id']}/secret",  # noqa: E731
                                 headers=signed_in_admin.auth)
    while time.time() % 1 > 0.3:  # cutoffs are whole seconds: all of it within one
        time.sleep(0.02)
    first = rotate()
    assert first.status_code == 200
    between = token_for(client, {**account, "client_secret": first.get_json()["client_secret"]})
    second = rotate()
    assert second.status_code == 200
    assert time.time() % 1 < 0.9, "the steps took too long to share one second"
    refused_within_five_seconds(client, between)
    fresh = token_for(client, {**account, "client_secret": second.get_json()["client_secret"]})
    assert client.get("/api/ping", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_deletion_refuses_the_accounts_tokens_within_five_seconds(app, client, signed_in_admin, account):
    token = token_for(client, account)
    assert client.delete(f"/api/admin/service-accounts/{account['client_id']}",
                         headers=signed_in_admin.auth).status_code == 204
    snapshot = client.get("/api/internal/revocations").get_json()
    assert snapshot["subjects"][account["client_id"]] >= int(time.time()) - 1
    refused_within_five_seconds(client, token)
    assert_token_error(client.post(TOKEN, data={"grant_type": "client_credentials"},
                                   headers=basic(account["client_id"], account["client_secret"])), 401, "invalid_client")
    assert client.get("/api/admin/service-accounts", headers=signed_in_admin.auth).get_json() == {"service_accounts": []}
    with app.app_context():
        events = [row.event for row in _db.session.execute(sa.select(AuditEvent)).scalars()]
    assert "service_account_created" in events and "service_account_deleted" in events


# -- rate limit ------------------------------------------------------------------------


def test_failed_client_authentication_is_rate_limited_per_client(make_app, provider):
    app = make_app(RATELIMIT_ENABLED="true")
    client = app.test_client()
    from authgw.service_accounts import create_service_account
    with app.app_context():
        row, secret = create_service_account({"name": "target", "roles": []}, None)
        _db.session.commit()
        client_id = row.client_id
    # Successes do not count.
    for _ in range(12):
        assert client.post(TOKEN, data={"grant_type": "client_credentials"},
                           headers=basic(client_id, secret)).status_code == 200
    statuses = [client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(client_id, f"bad-{n}"),
                            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code for n in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    limited = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert_token_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1


def test_failed_client_authentication_is_rate_limited_per_address(make_app, provider):
    app = make_app(RATELIMIT_ENABLED="true")
    client = app.test_client()
    statuses = [client.post(TOKEN, data={"grant_type": "client_credentials"},
                            headers=basic(f"sa_{n:016d}", "bad")).status_code for n in range(31)]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429


# -- metadata --------------------------------------------------------------------------


def test_authorization_server_metadata_follows_rfc_8414(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    body = response.get_json()
    assert body["issuer"] == PUBLIC_URL
    assert body["token_endpoint"] == f"{PUBLIC_URL}/api/auth/token"
    assert body["jwks_uri"] == f"{PUBLIC_URL}/.well-known/jwks.json"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert body["response_types_supported"] == []
    assert "authorization_endpoint" not in body and "password" not in body["grant_types_supported"]


# -- CLI --------------------------------------------------------------------------------


def test_cli_creates_lists_rotates_and_deletes_without_restriction(app):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["service-accounts", "create", "ci deploy", "--role", "admin"])
    assert created.exit_code == 0, created.output
    lines = dict(line.split(":", 1) for line in created.stdout.splitlines() if ":" in line)
    client_id, secret = lines["client_id"].strip(), lines["client_secret"].strip()
    client = app.test_client()
    assert client.post(TOKEN, data={"grant_type": "client_credentials"},
                       headers=basic(client_id, secret)).status_code == 200
    listed = runner.invoke(args=["service-accounts", "list"])
    assert client_id in listed.output and secret not in listed.output and "admin" in listed.output
    rotated = runner.invoke(args=["service-accounts", "rotate", client_id])
    assert rotated.exit_code == 0 and secret not in rotated.output
    assert client.post(TOKEN, data={"grant_type": "client_credentials"},
                       headers=basic(client_id, secret)).status_code == 401
    assert runner.invoke(args=["service-accounts", "delete", client_id]).exit_code == 0
    missing = runner.invoke(args=["service-accounts", "delete", client_id])
    assert missing.exit_code != 0 and "No such service account" in missing.output
    bad = runner.invoke(args=["service-accounts", "create", "x", "--role", "ghost"])
    assert bad.exit_code != 0 and "unknown role ghost" in bad.output


def test_purge_deletes_cutoffs_older_than_the_feed_window_only(app, clock):
    from authgw.models import ServiceAccountCutoff

    now = int(clock().timestamp())
    with app.app_context():
        _db.session.add_all([ServiceAccountCutoff(client_id="sa_OLDOLDOLDOLDOLDO", not_before=now - 5000),
                             ServiceAccountCutoff(client_id="sa_NEWNEWNEWNEWNEW", not_before=now - 10)])
        _db.session.commit()
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0 and "purged 1 service-account cutoffs" in result.output
    with app.app_context():
        assert [row.client_id for row in _db.session.execute(sa.select(ServiceAccountCutoff)).scalars()] == [
            "sa_NEWNEWNEWNEWNEW"]


def test_a_client_token_request_chosen_as_deadlock_victim_is_run_again(monkeypatch, app, client):
    """The client credentials grant is one transaction, run again after a
    deadlock (authgw.deadlocks) like a refresh."""
    import sqlalchemy as sa

    from authgw import service_accounts

    real, calls = service_accounts.grant_for_client, []

    def victim_once(account):
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("SELECT ...", {}, Exception(1213, "Deadlock found"))
        return real(account)

    with app.app_context():
        from authgw.extensions import db

        account, secret = service_accounts.create_service_account({"name": "deadlock", "roles": ["user"]}, actor=None)
        client_id = account.client_id
        db.session.commit()
    monkeypatch.setattr(service_accounts, "grant_for_client", victim_once)
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": client_id,
                                                     "client_secret": secret})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(calls) == 2
