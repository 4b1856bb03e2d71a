"""The OpenAPI document covers every route, validates, and matches real answers;
Swagger UI and the RFC 9728 metadata are served from this origin."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

from authgw import openapi
from authgw.openapi import OPERATIONS, UNDOCUMENTED_ENDPOINTS, service_fragment

REPO = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _validator(document: dict, schema: dict):
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def _response_schema(document: dict, path: str, method: str, status: int) -> dict:
    response = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


def assert_matches(document, path, method, response):
    schema = _response_schema(document, path, method, response.status_code)
    _validator(document, schema).validate(response.get_json())


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_of_the_backend_is_documented_with_its_methods(app, document):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS:
            continue
        item = document["paths"].get(_openapi_path(rule.rule))
        assert item is not None, f"{rule.rule} ({rule.endpoint}) is not in the document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in item, f"{method} {rule.rule} is not in the document"


def test_an_undocumented_route_is_refused_with_its_name(make_app):
    app = make_app()

    @app.get("/api/brand-new")
    def brand_new():
        return {}

    with pytest.raises(KeyError, match=r"GET /api/brand-new \(brand_new\)"):
        openapi.build_document(app, public_url="http://localhost:8080", issuer="http://localhost:8080", fragments=[])


def test_every_documented_operation_exists(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(OPERATIONS) - endpoints == set()


def test_only_internal_routes_are_left_out(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/internal/")} \
        <= UNDOCUMENTED_ENDPOINTS
    assert UNDOCUMENTED_ENDPOINTS == {"internal.revocations", "static"}


def test_the_notes_service_operations_are_in_the_document(document):
    assert {"get", "post"} <= set(document["paths"]["/api/notes"])
    assert {"get", "patch", "delete"} <= set(document["paths"]["/api/notes/{id}"])


def test_the_notes_fragment_is_what_the_notes_code_generates():
    committed = json.loads((openapi.SERVICE_FRAGMENTS_DIR / "notes.json").read_text())
    assert committed == json.loads(json.dumps(service_fragment("notes"))), \
        "backend/authgw/specs/notes.json is stale: run `python -m authgw.openapi` in backend/"


def test_every_declared_gateway_service_has_operations(document):
    routes = tomllib.loads((REPO / "gateway" / "routes.toml").read_text())
    for service in routes.get("service", []):
        prefix = service["prefix"]
        assert any(path == prefix or path.startswith(prefix + "/") for path in document["paths"]), \
            f"service {service['name']} ({prefix}) has no operation in the document"


def test_paths_are_written_in_full_from_the_gateway_origin(document):
    assert document["servers"] == [{"url": "/", "description": "the gateway's origin"}]
    for path in document["paths"]:
        assert path.startswith(("/api/", "/.well-known/")), path


def test_the_bearer_scheme_applies_unless_an_operation_is_public(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    public = document["paths"]["/api/health"]["get"]
    assert public["security"] == [] and "401" not in public["responses"]
    me = document["paths"]["/api/me"]["get"]
    assert "security" not in me and "401" in me["responses"]
    assert "403" in document["paths"]["/api/admin/users"]["get"]["responses"]


def test_every_operation_has_an_error_schema_and_an_id(document):
    ids = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            ids.append(op["operationId"])
            assert any(code.startswith("2") or code.startswith("3") for code in op["responses"]), (method, path)
            assert "503" in op["responses"], (method, path)
    assert len(ids) == len(set(ids))


def test_the_document_is_public_and_needs_no_token(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.is_json


def test_answers_match_their_schemas(client, document, signed_in_admin):
    auth = signed_in_admin.auth
    assert_matches(document, "/api/me", "get", client.get("/api/me", headers=auth))
    assert_matches(document, "/api/health", "get", client.get("/api/health"))
    assert_matches(document, "/api/health/ready", "get", client.get("/api/health/ready"))
    assert_matches(document, "/api/public/info", "get", client.get("/api/public/info"))
    assert_matches(document, "/.well-known/jwks.json", "get", client.get("/.well-known/jwks.json"))
    assert_matches(document, "/api/auth/sessions", "get", client.get("/api/auth/sessions", headers=auth))
    assert_matches(document, "/api/admin/users", "get", client.get("/api/admin/users", headers=auth))
    user = client.get(f"/api/admin/users/{signed_in_admin.user_id}", headers=auth)
    assert_matches(document, "/api/admin/users/{user_id}", "get", user)
    assert_matches(document, "/api/admin/roles", "get", client.get("/api/admin/roles", headers=auth))
    assert_matches(document, "/api/admin/audit", "get", client.get("/api/admin/audit", headers=auth))
    assert_matches(document, "/api/me", "get", client.get("/api/me"))  # 401
    assert_matches(document, "/api/admin/users/{user_id}", "get", client.get("/api/admin/users/999999", headers=auth))


def test_an_answer_outside_its_schema_is_caught(document):
    with pytest.raises(jsonschema.ValidationError):
        _validator(document, _response_schema(document, "/api/me", "get", 200)).validate({"id": 1})


def test_swagger_ui_is_served_from_this_origin_with_a_strict_policy(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = page.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith("/api/docs/"), src
        assert client.get(src).status_code == 200, src
    assert "/api/openapi.json" in client.get("/api/docs/init.js").get_data(as_text=True)


def test_only_swagger_ui_files_are_served(client):
    for name in ("../openapi.py", "index.html", "oauth2-redirect.html", "nope.js"):
        response = client.get(f"/api/docs/{name}")
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_protected_resource_metadata_follows_rfc_9728(client, document):
    response = client.get("/.well-known/oauth-protected-resource")
    body = response.get_json()
    assert response.status_code == 200
    assert body["resource"] == "http://localhost:8080"
    assert body["authorization_servers"] == ["http://localhost:8080"]
    assert body["bearer_methods_supported"] == ["header"]
    assert_matches(document, "/.well-known/oauth-protected-resource", "get", response)


def test_operations_with_parameters_document_the_gateways_414(document):
    """A path or query the gateway finds too long is its 414 (uri_too_long)."""
    with_parameters = 0
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS and op.get("parameters"):
                with_parameters += 1
                assert op["responses"].get("414") == {"$ref": "#/components/responses/URITooLong"}, (method, path)
    assert with_parameters >= 5
