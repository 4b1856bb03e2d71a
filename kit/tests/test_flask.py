"""Flask extension: default deny, @public, @require_permission, JSON errors, no trust in X-Auth-*."""

from __future__ import annotations

import io
import json

import pytest
from flask import Flask, jsonify
from werkzeug.test import EnvironBuilder, run_wsgi_app

from authgw_kit.flask import (AuthGWKit, BoundedRequest, current_claims, current_kit, current_token, public,
                              require_permission)


@pytest.fixture
def app(verifier):
    app = Flask(__name__)
    kit = AuthGWKit()
    kit.init_app(app, verifier=verifier)

    @app.get("/api/things")
    def things():
        return jsonify(sub=current_token().subject, email=current_claims()["email"])

    @app.post("/api/things")
    @require_permission("notes:write")
    def add_thing():
        return jsonify(ok=True), 201

    @app.get("/api/open")
    @public
    def open_view():
        token = current_token(optional=True)
        return jsonify(anonymous=token is None)

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_extension_is_stored_on_the_app(app, verifier):
    with app.app_context():
        assert current_kit().verifier is verifier
    assert isinstance(app.extensions["authgw_kit"], AuthGWKit)


def test_valid_token_reaches_the_view(client, mint):
    response = client.get("/api/things", headers=bearer(mint()))
    assert response.status_code == 200 and response.get_json() == {"sub": "7", "email": "a@example.test"}


def test_every_view_needs_a_token_by_default(client):
    response = client.get("/api/things")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert set(response.get_json()) == {"error", "error_description"}


def test_unknown_paths_are_denied_too(client):
    assert client.get("/api/nothing-here").status_code == 401


def test_identity_headers_alone_are_not_trusted(client):
    response = client.get("/api/things", headers={"X-Auth-User-Id": "1", "X-Auth-Permissions": "notes:write"})
    assert response.status_code == 401


def test_forged_token_gets_invalid_token(client, mint):
    token = mint()
    response = client.get("/api/things", headers=bearer(token[:-4] + "AAAA"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert response.get_json()["error"] == "invalid_token"


def test_public_view_is_open(client):
    assert client.get("/api/open").get_json() == {"anonymous": True}


def test_missing_permission_is_403_insufficient_scope(client, mint):
    response = client.post("/api/things", headers=bearer(mint(permissions=["notes:read"])))
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
    assert client.post("/api/things", headers=bearer(mint(permissions=["notes:write"]))).status_code == 201


def test_stale_revocation_list_is_503_with_retry_after(client, mint, feed, monotonic, verifier):
    verifier.revocations.refresh_now()
    feed.failing = True
    monotonic.advance(61)
    response = client.get("/api/things", headers=bearer(mint()))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"] == "service_unavailable"


def test_init_app_without_settings_lists_what_is_missing(monkeypatch):
    for name in ("AUTHGW_ISSUER", "AUTHGW_JWKS_URL", "AUTHGW_REVOCATIONS_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="AUTHGW_ISSUER.*AUTHGW_JWKS_URL"):
        AuthGWKit(Flask(__name__))


def test_init_app_reads_app_config():
    app = Flask(__name__)
    app.config.update(AUTHGW_ISSUER="https://i.test", AUTHGW_JWKS_URL="http://127.0.0.1:1/j",
                      AUTHGW_REVOCATIONS_URL="http://127.0.0.1:1/r")
    kit = AuthGWKit(app)
    assert kit.verifier.issuer == "https://i.test"


def test_json_error_is_the_refusal_shape_for_a_service_s_own_errors():
    from authgw_kit.errors import HTTP_ERROR_CODES
    from authgw_kit.flask import json_error

    app = Flask(__name__)
    with app.app_context():
        response = json_error(405, HTTP_ERROR_CODES[405], "Use GET.", {"Allow": "GET, HEAD"})
    assert response.status_code == 405 and response.mimetype == "application/json"
    assert response.get_json() == {"error": "method_not_allowed", "error_description": "Use GET."}
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Allow"] == "GET, HEAD"


def test_http_error_codes_are_rfc_words_without_service_specific_ones():
    from authgw_kit.errors import HTTP_ERROR_CODES

    assert HTTP_ERROR_CODES[400] == "invalid_request" and HTTP_ERROR_CODES[401] == "invalid_token"
    assert HTTP_ERROR_CODES[503] == "service_unavailable"
    assert 403 not in HTTP_ERROR_CODES  # each service words its own 403 (forbidden / insufficient_scope)


@pytest.mark.parametrize("request_class, over_limit", [(BoundedRequest, 413), (Flask.request_class, 200)])
def test_a_chunked_body_over_the_limit_is_413_not_cut(request_class, over_limit):
    """Without Content-Length Werkzeug cuts the body at MAX_CONTENT_LENGTH;
    BoundedRequest refuses it (the plain class shows the cut)."""
    from flask import request

    app = Flask(__name__)
    app.request_class = request_class
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.post("/echo")
    def echo():
        return jsonify(length=len(request.get_data()))

    client = app.test_client()
    for size, status in ((99, 200), (100, over_limit), (5000, over_limit)):
        # As gunicorn passes a chunked body: no CONTENT_LENGTH, the input terminated.
        environ = EnvironBuilder(path="/echo", method="POST", input_stream=io.BytesIO(b"x" * size)).get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
        body, answered, _ = run_wsgi_app(app, environ)
        assert int(answered.split()[0]) == status, (size, answered)
        if status == 200:
            assert json.loads(b"".join(body))["length"] == min(size, 100)
    assert client.post("/echo", data=b"x" * 5000).status_code == 413  # with Content-Length: Werkzeug's own


@pytest.mark.parametrize("request_class, over_limit", [(BoundedRequest, 413), (Flask.request_class, 200)])
def test_a_chunked_form_over_the_limit_is_413_not_cut(request_class, over_limit):
    """A form loses its last fields when cut (the token endpoint reads one)."""
    from flask import request

    app = Flask(__name__)
    app.request_class = request_class
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.post("/form")
    def form():
        return jsonify(fields=sorted(request.form))

    for body, status in ((b"a=1&b=2", 200), (b"a=" + b"x" * 150 + b"&b=2", over_limit)):
        environ = EnvironBuilder(path="/form", method="POST", input_stream=io.BytesIO(body),
                                 content_type="application/x-www-form-urlencoded").get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
        answer, answered, _ = run_wsgi_app(app, environ)
        assert int(answered.split()[0]) == status, (body[:10], answered)
        if status == 200 and len(body) < 100:
            assert json.loads(b"".join(answer))["fields"] == ["a", "b"]
