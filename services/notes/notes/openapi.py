"""OpenAPI 3.1 description of the notes endpoints (docs/notes.md, "Endpoints").

``document()`` is served on the service's own port at ``/openapi.json``
(internal, like ``/healthz``) so that whoever assembles the product's
OpenAPI document (``/api/openapi.json``) can merge ``paths`` and
``components`` from it. Paths are written in full, relative to the
gateway's origin, exactly as the gateway forwards them.
"""

from __future__ import annotations

from typing import Any

from .models import BODY_MAX, TITLE_MAX

ERROR_CODES = {
    "400": ("invalid_request", "The body is not an acceptable note (nothing is stored)."),
    "401": ("invalid_token", "No token, or a malformed, forged, expired or revoked one (RFC 6750 §3.1)."),
    "403": ("insufficient_scope", "The token lacks notes:read (GET) or notes:write (other methods)."),
    "404": ("not_found", "No such note of the caller (another user's note is not revealed)."),
    "413": ("request_too_large", "The request body is over 1 MiB."),
    "503": ("service_unavailable", "The database or the token check is unavailable; see Retry-After."),
}


def _error(status: str) -> dict[str, Any]:
    code, text = ERROR_CODES[status]
    headers: dict[str, Any] = {}
    if status in ("401", "403"):
        headers["WWW-Authenticate"] = {"schema": {"type": "string"}, "description": "RFC 6750 §3 challenge"}
    if status == "503":
        headers["Retry-After"] = {"schema": {"type": "string"}, "description": "seconds"}
    response: dict[str, Any] = {
        "description": f"`{code}`: {text}",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _operation(summary: str, permission: str, ok: dict[str, Any], errors: list[str],
               body: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["notes"],
        "summary": summary,
        "description": f"Needs the `{permission}` permission.",
        "security": [{"bearerAuth": []}],
        "responses": {**ok, **{status: _error(status) for status in errors}},
    }
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return operation


def _json(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the notes endpoints.

    Returns:
        dict: ``{"openapi": "3.1.0", "info", "paths", "components"}``; the
        security scheme is ``bearerAuth`` (HTTP bearer, JWT).
    """
    note_id = {"name": "id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
    read_errors = ["401", "403", "503"]
    write_errors = ["400", "401", "403", "413", "503"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "authgw notes service", "version": "1.0.0",
                 "description": "The example service behind the authgw gateway (docs/notes.md)."},
        "paths": {
            "/api/notes": {
                "get": _operation("List the caller's notes, newest first", "notes:read",
                                  {"200": _json("The caller's notes", "#/components/schemas/NoteList")}, read_errors),
                "post": _operation("Add a note", "notes:write",
                                   {"201": {**_json("The new note", "#/components/schemas/Note"),
                                            "headers": {"Location": {"schema": {"type": "string"}}}}},
                                   write_errors, body="NoteCreate"),
            },
            "/api/notes/{id}": {
                "parameters": [note_id],
                "get": _operation("Read one of the caller's notes", "notes:read",
                                  {"200": _json("The note", "#/components/schemas/Note")}, read_errors + ["404"]),
                "patch": _operation("Change the title and/or body of one of the caller's notes", "notes:write",
                                    {"200": _json("The changed note", "#/components/schemas/Note")},
                                    write_errors + ["404"], body="NoteUpdate"),
                "delete": _operation("Delete one of the caller's notes", "notes:write",
                                     {"204": {"description": "Deleted"}}, read_errors + ["404"]),
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Note": {
                    "type": "object",
                    "required": ["id", "title", "body", "created_at", "updated_at"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
                        "body": {"type": "string", "maxLength": BODY_MAX},
                        "created_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                    },
                },
                "NoteList": {
                    "type": "object", "required": ["notes"], "additionalProperties": False,
                    "properties": {"notes": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}},
                },
                "NoteCreate": {
                    "type": "object", "required": ["title"], "additionalProperties": False,
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
                        "body": {"type": "string", "maxLength": BODY_MAX, "default": ""},
                    },
                },
                "NoteUpdate": {
                    "type": "object", "minProperties": 1, "additionalProperties": False,
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
                        "body": {"type": "string", "maxLength": BODY_MAX},
                    },
                },
                "Error": {
                    "type": "object", "required": ["error", "error_description"],
                    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
                },
            },
        },
    }
