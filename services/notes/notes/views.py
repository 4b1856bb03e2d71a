"""The notes API: ``/api/notes`` and ``/api/notes/<id>`` (docs/notes.md).

Every view acts for the access token's subject only: it comes from the
token the kit verified (``current_token``), never from ``X-Auth-*`` headers.
A note of another subject is answered exactly like a missing one, ``404
not_found``, so existence is not revealed.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import BaseModel, ValidationError

from authgw_kit.flask import current_token, require_permission

from .errors import InvalidRequest, NotFound
from .extensions import db
from .models import Note, utcnow
from .schemas import NoteCreate, NoteUpdate, describe

bp = Blueprint("notes", __name__, url_prefix="/api/notes")

#: Largest note id the column holds (signed 32-bit INT); larger ids are simply unknown.
MAX_ID = 2**31 - 1


def _subject() -> str:
    return current_token().subject


def _read_json_object() -> dict[str, Any]:
    """Return the request body as a JSON object.

    Raises:
        InvalidRequest: not ``application/json``, not UTF-8 JSON, hostile
            nesting, or not an object.
        RequestEntityTooLarge: over ``MAX_CONTENT_LENGTH`` (413, from Werkzeug).
    """
    if not request.is_json:
        raise InvalidRequest("Send the note as JSON with Content-Type: application/json.")
    raw = request.get_data(cache=False)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest("The body is not valid UTF-8 JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return data


def _parse(schema: type[BaseModel]) -> BaseModel:
    data = _read_json_object()
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe(exc)) from None


def _own_note(note_id: int) -> Note:
    """Return the caller's note ``note_id``, or raise NotFound (also for another subject's note)."""
    if note_id > MAX_ID:
        raise NotFound()
    note = db.session.execute(
        db.select(Note).where(Note.id == note_id, Note.subject == _subject())
    ).scalar_one_or_none()
    if note is None:
        raise NotFound()
    return note


@bp.get("")
@require_permission("notes:read")
def list_notes():
    """``GET /api/notes`` -> ``200 {"notes": [note, ...]}``: the caller's notes, newest first."""
    notes = db.session.execute(
        db.select(Note).where(Note.subject == _subject()).order_by(Note.created_at.desc(), Note.id.desc())
    ).scalars()
    return jsonify({"notes": [note.to_dict() for note in notes]})


@bp.post("")
@require_permission("notes:write")
def create_note():
    """``POST /api/notes`` ``{"title", "body"?}`` -> ``201`` note with ``Location``; ``400`` stores nothing."""
    shape = _parse(NoteCreate)
    now = utcnow()
    note = Note(subject=_subject(), title=shape.title, body=shape.body, created_at=now, updated_at=now)
    db.session.add(note)
    db.session.commit()
    response = jsonify(note.to_dict())
    response.status_code = 201
    response.headers["Location"] = url_for("notes.get_note", note_id=note.id)
    return response


@bp.get("/<int:note_id>")
@require_permission("notes:read")
def get_note(note_id: int):
    """``GET /api/notes/<id>`` -> ``200`` note, or ``404 not_found``."""
    return jsonify(_own_note(note_id).to_dict())


@bp.patch("/<int:note_id>")
@require_permission("notes:write")
def update_note(note_id: int):
    """``PATCH /api/notes/<id>`` ``{"title"?, "body"?}`` -> ``200`` note; ``400`` changes nothing."""
    note = _own_note(note_id)
    shape = _parse(NoteUpdate)
    for name in shape.model_fields_set:
        setattr(note, name, getattr(shape, name))
    note.updated_at = utcnow()
    db.session.commit()
    return jsonify(note.to_dict())


@bp.delete("/<int:note_id>")
@require_permission("notes:write")
def delete_note(note_id: int):
    """``DELETE /api/notes/<id>`` -> ``204``, or ``404 not_found``."""
    db.session.delete(_own_note(note_id))
    db.session.commit()
    return Response(status=204)
