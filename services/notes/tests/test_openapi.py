"""The OpenAPI description matches the routes and the answers of the service."""

from __future__ import annotations

import re

import pytest

from notes.openapi import document


def test_every_api_route_and_method_is_described(app):
    described = {(path, method.upper()) for path, item in document()["paths"].items()
                 for method in item if method != "parameters"}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", "{id}", rule.rule)
            served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == described


def test_the_document_is_valid_openapi_3_1():
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document())


def test_answers_match_the_schemas(client, auth):
    jsonschema = pytest.importorskip("jsonschema")
    doc = document()
    schemas = doc["components"]["schemas"]

    def check(value, name):
        schema = {**schemas[name], "$defs": schemas}
        text = _refs_to_defs(schema)
        jsonschema.validate(value, text)

    created = client.post("/api/notes", json={"title": "t", "body": "b"}, headers=auth("1"))
    check(created.get_json(), "Note")
    check(client.get("/api/notes", headers=auth("1")).get_json(), "NoteList")
    check(client.post("/api/notes", json={}, headers=auth("1")).get_json(), "Error")
    check(client.get("/api/notes").get_json(), "Error")
    assert client.get("/openapi.json").get_json() == doc


def _refs_to_defs(value):
    if isinstance(value, dict):
        return {k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _refs_to_defs(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_refs_to_defs(v) for v in value]
    return value
