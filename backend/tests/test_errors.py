"""Every error is JSON with the right status; a database outage is a 503."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db

from .flows import ORIGIN, login

UNREACHABLE_MYSQL = "mysql+pymysql://app:pw@127.0.0.1:1/auth?charset=utf8mb4"


def assert_json_error(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    assert body["error"] == code
    assert isinstance(body["error_description"], str)


def test_unknown_path_is_json_404(client):
    assert_json_error(client.get("/api/no-such-thing"), 404, "not_found")


def test_wrong_method_is_json_405(client):
    assert_json_error(client.post("/api/health"), 405, "method_not_allowed")
    assert_json_error(client.delete("/api/me"), 405, "method_not_allowed")


def test_oversized_body_is_json_413(client):
    response = client.post("/api/auth/refresh", data="x" * (65 * 1024), content_type="application/json")
    assert_json_error(response, 413, "request_too_large")


def test_oversized_body_on_logout_is_json_413(client):
    response = client.post("/api/auth/logout", data="{" + " " * (65 * 1024) + "}", content_type="application/json")
    assert_json_error(response, 413, "request_too_large")


def test_health_answers_ok(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_answers_200_when_the_database_answers(client):
    assert client.get("/api/health/ready").status_code == 200


def test_every_answer_has_nosniff(client):
    assert client.get("/api/health").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/nothing").headers["X-Content-Type-Options"] == "nosniff"


# -- database outage --------------------------------------------------------


@pytest.fixture
def app_without_database(make_app):
    return make_app(DATABASE_URL=UNREACHABLE_MYSQL)


def test_ready_is_503_when_the_database_is_unreachable(app_without_database):
    response = app_without_database.test_client().get("/api/health/ready")
    assert_json_error(response, 503, "service_unavailable")


def test_health_stays_200_when_the_database_is_unreachable(app_without_database):
    assert app_without_database.test_client().get("/api/health").status_code == 200


def test_refresh_is_503_service_unavailable_when_the_database_is_unreachable(app_without_database):
    response = app_without_database.test_client().post("/api/auth/refresh", json={"refresh_token": "A" * 43})
    assert_json_error(response, 503, "service_unavailable")
    assert response.headers.get("Retry-After")


def test_token_check_fails_closed_with_503_when_revocation_cannot_be_read(app, app_without_database, signed_in):
    """A valid token whose revocation status cannot be known is not accepted."""
    client = app_without_database.test_client()
    for path in ("/api/me", "/api/ping"):
        assert_json_error(client.get(path, headers=signed_in.auth), 503, "service_unavailable")


def test_login_callback_is_503_not_500_when_the_database_is_unreachable(app_without_database, provider):
    response = login(app_without_database.test_client(), provider)
    assert response.status_code == 503


@pytest.fixture
def outage(app):
    """Switch the app's database off and on (new connections fail while off)."""

    class Outage:
        down = False

        def refuse(self, *args, **kwargs):
            if self.down:
                raise sqlite3.OperationalError("unable to open database file")

        def start(self):
            self.down = True
            with app.app_context():
                _db.engine.dispose()

        def end(self):
            self.down = False

    switch = Outage()
    with app.app_context():
        sa.event.listen(_db.engine, "do_connect", switch.refuse)
    yield switch
    with app.app_context():
        sa.event.remove(_db.engine, "do_connect", switch.refuse)


def test_service_recovers_by_itself_when_the_database_comes_back(client, signed_in, outage):
    outage.start()
    assert_json_error(client.get("/api/health/ready"), 503, "service_unavailable")
    assert_json_error(client.post("/api/auth/refresh", json={"refresh_token": signed_in.refresh_token}),
                      503, "service_unavailable")
    outage.end()
    assert client.get("/api/health/ready").status_code == 200
    # Nothing was spent during the outage: the refresh token still works.
    assert client.post("/api/auth/refresh", json={"refresh_token": signed_in.refresh_token}).status_code == 200


def test_cookie_refresh_during_an_outage_keeps_the_cookie(client, signed_in, outage):
    client.set_cookie("refresh_token", signed_in.refresh_token, path="/api/auth")
    outage.start()
    response = client.post("/api/auth/refresh", headers=ORIGIN)
    assert_json_error(response, 503, "service_unavailable")
    assert "refresh_token=" not in " ".join(response.headers.getlist("Set-Cookie"))
    outage.end()
    assert client.post("/api/auth/refresh", headers=ORIGIN).status_code == 200
