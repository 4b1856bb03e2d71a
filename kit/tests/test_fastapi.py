"""ASGI middleware and FastAPI dependencies."""

from __future__ import annotations

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi import Depends, FastAPI, Request  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from authgw_kit.asgi import AuthGWMiddleware, is_public  # noqa: E402
from authgw_kit.fastapi import current_token, install, require_permission  # noqa: E402


@pytest.fixture
def client(verifier):
    app = FastAPI()
    install(app, verifier, public_paths=["/api/health", "/api/public/"])

    @app.get("/api/things")
    def things(request: Request, token=Depends(current_token)):
        return {"sub": token.subject, "state": request.state.authgw_token.subject}

    @app.post("/api/things", status_code=201)
    def add(token=Depends(require_permission("notes:write"))):
        return {"ok": True}

    @app.get("/api/health")
    def health():
        return {"status": "ok"}

    @app.get("/api/public/who")
    def who(token=Depends(current_token)):
        return {"sub": token.subject}

    return TestClient(app)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_reaches_the_route(client, mint):
    assert client.get("/api/things", headers=bearer(mint())).json() == {"sub": "7", "state": "7"}


def test_no_token_is_401_with_the_challenge(client):
    response = client.get("/api/things")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert set(response.json()) == {"error", "error_description"}
    assert client.get("/api/unknown").status_code == 401


def test_identity_headers_alone_are_not_trusted(client):
    assert client.get("/api/things", headers={"X-Auth-User-Id": "1"}).status_code == 401


def test_forged_token_is_invalid_token(client, corpus):
    token = next(c["token"] for c in corpus["cases"] if c["name"] == "header_hostile_nesting")
    response = client.get("/api/things", headers=bearer(token))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_permission_dependency_gives_403(client, mint):
    response = client.post("/api/things", headers=bearer(mint(permissions=["notes:read"])))
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert client.post("/api/things", headers=bearer(mint(permissions=["notes:write"]))).status_code == 201


def test_public_paths_are_open_and_dependencies_still_check(client, mint):
    assert client.get("/api/health").json() == {"status": "ok"}
    assert client.get("/api/public/who").status_code == 401
    assert client.get("/api/public/who", headers=bearer(mint())).json() == {"sub": "7"}


def test_bare_middleware_renders_errors_itself(verifier, mint):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["authgw.token"].subject.encode()})

    client = TestClient(AuthGWMiddleware(app, verifier))
    assert client.get("/x", headers=bearer(mint())).text == "7"
    response = client.get("/x")
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_public_path_matching():
    assert is_public("/api/health", ["/api/health"]) and not is_public("/api/healthz", ["/api/health"])
    assert is_public("/api/public/a/b", ["/api/public/"]) and not is_public("/api/public", ["/api/public/"])
