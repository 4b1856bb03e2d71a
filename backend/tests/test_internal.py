"""``GET /api/internal/revocations``: the snapshot gateways and services poll."""

from __future__ import annotations

import time

from authgw.extension import AuthGW
from authgw.extensions import db as _db
from authgw.models import Session
from authgw.sessions import revoke_session

from .test_errors import UNREACHABLE_MYSQL


def test_snapshot_lists_recently_revoked_sessions_and_nothing_live(app, client, signed_in, make_session):
    other = make_session(signed_in.user_id)
    with app.app_context():
        revoke_session(_db.session.get(Session, signed_in.session_id), reason="logout")
        _db.session.commit()
    before = time.time()
    response = client.get("/api/internal/revocations")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"generated_at", "window", "sessions", "subjects", "roles"}
    assert signed_in.session_id in body["sessions"]
    assert other.session_id not in body["sessions"]
    assert abs(body["sessions"][signed_in.session_id] - before) < 5
    assert body["window"] == AuthGW.of(app).settings.access_token_ttl + 30


def test_snapshot_needs_no_token_but_answers_503_json_when_the_database_is_down(make_app):
    response = make_app(DATABASE_URL=UNREACHABLE_MYSQL).test_client().get("/api/internal/revocations")
    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"
    assert response.headers["Retry-After"]
