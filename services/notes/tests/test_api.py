"""The notes API: shapes, limits, privacy and errors (docs/notes.md)."""

from __future__ import annotations

import json
import re
import time

from notes.extensions import db
from notes.models import Note

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def count_notes(app) -> int:
    with app.app_context():
        return db.session.query(Note).count()


def create(client, headers, **body):
    response = client.post("/api/notes", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_returns_201_with_the_note_and_its_location(client, auth):
    response = client.post("/api/notes", json={"title": "Groceries", "body": "milk"}, headers=auth("1"))
    assert response.status_code == 201
    note = response.get_json()
    assert set(note) == {"id", "title", "body", "created_at", "updated_at"}
    assert note["title"] == "Groceries" and note["body"] == "milk"
    assert RFC3339.match(note["created_at"]) and RFC3339.match(note["updated_at"])
    assert response.headers["Location"] == f"/api/notes/{note['id']}"


def test_body_is_optional_and_defaults_to_empty(client, auth):
    assert create(client, auth("1"), title="only a title")["body"] == ""


def test_list_shows_only_the_callers_notes_newest_first(client, auth):
    first = create(client, auth("1"), title="first")
    time.sleep(0.002)
    second = create(client, auth("1"), title="second")
    create(client, auth("2"), title="someone else's")
    response = client.get("/api/notes", headers=auth("1"))
    assert response.status_code == 200
    assert [n["id"] for n in response.get_json()["notes"]] == [second["id"], first["id"]]


def test_empty_list_for_a_new_user(client, auth):
    assert client.get("/api/notes", headers=auth("42")).get_json() == {"notes": []}


def test_get_patch_delete_of_an_own_note(client, auth):
    note = create(client, auth("1"), title="draft", body="v1")
    assert client.get(f"/api/notes/{note['id']}", headers=auth("1")).get_json() == note

    time.sleep(0.002)
    patched = client.patch(f"/api/notes/{note['id']}", json={"body": "v2"}, headers=auth("1"))
    assert patched.status_code == 200
    body = patched.get_json()
    assert body["title"] == "draft" and body["body"] == "v2"
    assert body["created_at"] == note["created_at"] and body["updated_at"] > note["updated_at"]
    renamed = client.patch(f"/api/notes/{note['id']}", json={"title": "final"}, headers=auth("1")).get_json()
    assert renamed["title"] == "final" and renamed["body"] == "v2"

    deleted = client.delete(f"/api/notes/{note['id']}", headers=auth("1"))
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.get(f"/api/notes/{note['id']}", headers=auth("1")).status_code == 404


def test_another_users_note_is_404_not_found_for_every_method_and_unchanged(app, client, auth):
    note = create(client, auth("1"), title="private", body="secret")
    for method, body in (("GET", None), ("PATCH", {"title": "hijacked"}), ("DELETE", None)):
        response = client.open(f"/api/notes/{note['id']}", method=method, json=body, headers=auth("2"))
        assert response.status_code == 404, method
        assert response.get_json()["error"] == "not_found"
    # Indistinguishable from an id that never existed.
    unknown = client.get("/api/notes/999999", headers=auth("2"))
    assert unknown.status_code == 404 and unknown.get_json() == client.get(
        f"/api/notes/{note['id']}", headers=auth("2")).get_json()
    assert client.get(f"/api/notes/{note['id']}", headers=auth("1")).get_json() == note


def test_ids_that_are_not_small_integers_are_404(client, auth):
    for path in ("/api/notes/abc", "/api/notes/-1", "/api/notes/99999999999999999999999", "/api/notes/1.5"):
        response = client.get(path, headers=auth("1"))
        assert response.status_code == 404, path
        assert response.get_json()["error"] == "not_found"


BAD_CREATE_BODIES = [
    {},
    {"title": ""},
    {"title": "   "},
    {"title": "x" * 201},
    {"title": 5},
    {"title": None},
    {"title": ["a"]},
    {"title": "ok", "body": "x" * 10_001},
    {"title": "ok", "body": None},
    {"title": "ok", "body": 3},
    {"title": "ok", "owner": "2"},
    {"title": "ok", "id": 7},
]


def test_bad_create_bodies_are_400_invalid_request_and_store_nothing(app, client, auth):
    for body in BAD_CREATE_BODIES:
        response = client.post("/api/notes", json=body, headers=auth("1"))
        assert response.status_code == 400, body
        error = response.get_json()
        assert error["error"] == "invalid_request" and error["error_description"], body
    assert count_notes(app) == 0


def test_the_limits_themselves_are_accepted(client, auth):
    note = create(client, auth("1"), title="t" * 200, body="b" * 10_000)
    assert len(note["title"]) == 200 and len(note["body"]) == 10_000
    # Lengths count characters, not bytes.
    assert create(client, auth("1"), title="€" * 200)["title"] == "€" * 200


def test_non_json_and_malformed_json_are_400(app, client, auth):
    cases = [
        ({"data": "title=x", "content_type": "application/x-www-form-urlencoded"}),
        ({"data": '{"title": "x"}', "content_type": "text/plain"}),
        ({"data": "{not json", "content_type": "application/json"}),
        ({"data": b"\xff\xfe", "content_type": "application/json"}),
        ({"data": '["title"]', "content_type": "application/json"}),
        ({"data": '"title"', "content_type": "application/json"}),
        ({"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}),
        ({"data": '{"title": "\\ud800"}', "content_type": "application/json"}),
        ({"data": "", "content_type": "application/json"}),
    ]
    for case in cases:
        response = client.post("/api/notes", headers=auth("1"), **case)
        assert response.status_code == 400, case["data"][:20]
        assert response.get_json()["error"] == "invalid_request"
    assert count_notes(app) == 0


def test_error_descriptions_name_the_field_without_echoing_input(client, auth):
    response = client.post("/api/notes", json={"title": "x" * 201, "colour": "<script>"}, headers=auth("1"))
    description = response.get_json()["error_description"]
    assert "title" in description and "colour: unknown field" in description
    assert "<script>" not in description and "xxxx" not in description


def test_a_body_of_many_unknown_fields_gets_a_short_answer(client, auth):
    body = {"title": "t", **{f"field{i:05d}" + "x" * 200: 1 for i in range(3000)}}
    response = client.post("/api/notes", json=body, headers=auth("1"))
    assert response.status_code == 400
    description = response.get_json()["error_description"]
    assert len(response.get_data()) < 1000, len(response.get_data())
    assert description.endswith("and 2995 more problems") and "field00000" in description


def test_bad_patch_bodies_are_400_and_change_nothing(client, auth):
    note = create(client, auth("1"), title="keep", body="me")
    for body in ({}, {"title": ""}, {"title": None}, {"body": None}, {"body": "x" * 10_001}, {"pinned": True},
                 {"title": "fine", "extra": 1}):
        response = client.patch(f"/api/notes/{note['id']}", json=body, headers=auth("1"))
        assert response.status_code == 400, body
        assert response.get_json()["error"] == "invalid_request"
    assert client.get(f"/api/notes/{note['id']}", headers=auth("1")).get_json() == note


def test_bodies_over_one_megabyte_are_413_json(app, client, auth):
    big = json.dumps({"title": "big", "body": "x" * (1024 * 1024)})
    response = client.post("/api/notes", data=big, content_type="application/json", headers=auth("1"))
    assert response.status_code == 413
    assert response.get_json()["error"] == "request_too_large"
    assert count_notes(app) == 0


def test_unknown_paths_and_methods_are_json(client, auth):
    missing = client.get("/api/nothing-here", headers=auth("1"))
    assert missing.status_code == 404 and missing.is_json
    wrong = client.put("/api/notes", json={"title": "x"}, headers=auth("1"))
    assert wrong.status_code == 405 and wrong.get_json()["error"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_answers_echo_a_sane_request_id_and_replace_a_hostile_one(client, auth):
    response = client.get("/api/notes", headers={**auth("1"), "X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    hostile = client.get("/api/notes", headers={**auth("1"), "X-Request-ID": 'x" injected=1'})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["X-Request-ID"])


def test_health_endpoints_need_no_token(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
