"""Hostile JSON bodies are bad input (400 JSON), never a 500, and change nothing.

Deep nesting (Python's ``RecursionError``) and lone surrogate escapes (text
no UTF-8 can hold) used to escape Flask's JSON error handling
(authgw/strict_json.py).
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AuditEvent, Role, User
from authgw.strict_json import StrictJSONProvider

from .flows import ORIGIN
from .test_errors import assert_json_error

HOSTILE = {
    "deep array": "[" * 60_000,
    "deep object": '{"a":' * 12_000,
    "lone surrogate value": '{"refresh_token": "\\ud800", "roles": ["\\udfff"], "permissions": ["\\uDC00x"],'
                            ' "email": "a\\ud800@example.test", "password": "\\ud800", "name": "\\ud800",'
                            ' "active": true}',
    "lone surrogate key": '{"\\ud800": 1}',
    "CESU-8 surrogate bytes": b'{"refresh_token": "\xed\xa0\x80", "roles": ["\xed\xa0\x80"], "email": "a@b.c",'
                              b' "password": "\xed\xa0\x80", "name": "x", "permissions": []}',
    "UTF-16 body": '{"refresh_token": "\\ud800", "roles": ["x"], "email": "a@b.c"}'.encode("utf-16"),
    "UTF-8 byte order mark": b'\xef\xbb\xbf{"refresh_token": "x", "email": "a@b.c", "password": "y"}',
}


@pytest.fixture
def app(make_app):
    return make_app(PASSWORD_LOGIN="on")


def _endpoints(admin_id: int) -> list[tuple[str, str]]:
    return [("POST", "/api/auth/refresh"), ("POST", "/api/auth/logout"), ("POST", "/api/auth/register"),
            ("POST", "/api/auth/login/password"), ("PATCH", f"/api/admin/users/{admin_id}"),
            ("POST", "/api/admin/allowed-emails"), ("POST", "/api/admin/roles"),
            ("PUT", "/api/admin/roles/user/permissions"), ("POST", "/api/admin/service-accounts")]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_json_is_400_everywhere_and_changes_nothing(app, client, signed_in_admin, kind):
    def state():
        with app.app_context():
            return [_db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
                    for model in (User, Role, AuditEvent)]

    before = state()
    for method, path in _endpoints(signed_in_admin.user_id):
        response = client.open(path, method=method, data=HOSTILE[kind], headers={
            **signed_in_admin.auth, **ORIGIN, "Content-Type": "application/json"})
        assert response.status_code < 500, (path, response.status_code, response.get_data(as_text=True)[:200])
        assert_json_error(response, 400, "invalid_request")
    assert state() == before


def test_the_provider_keeps_valid_text_and_pairs():
    provider = StrictJSONProvider.__new__(StrictJSONProvider)
    assert provider.loads('{"e": "\\ud83d\\ude00 caf\\u00e9", "n": [1, {"k": "\\u2603"}]}') == {
        "e": "\U0001F600 café", "n": [1, {"k": "\u2603"}]}
    assert provider.loads(json.dumps({"x": "\\ud800 as text"})) == {"x": "\\ud800 as text"}
    for bad in ('"\\ud800"', '["\\udbff\\u0041"]', '{"\\udc00": 1}', "[" * 60_000, b"\xff\xfe{"):
        with pytest.raises(ValueError):
            provider.loads(bad)
