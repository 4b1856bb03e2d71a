"""Settings, migrations and database outages of the notes service."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import sqlalchemy as sa

from notes import create_app
from notes.config import ConfigError, load_settings
from notes.database import VERSION_TABLE, upgrade


def test_every_missing_setting_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        load_settings({})
    text = " ".join(caught.value.problems)
    for name in ("NOTES_DATABASE_URL", "AUTHGW_ISSUER", "AUTHGW_AUDIENCE", "AUTHGW_JWKS_URL", "AUTHGW_REVOCATIONS_URL"):
        assert name in text


def test_malformed_settings_are_named(settings_env):
    env = {**settings_env, "NOTES_DATABASE_URL": "postgres://x/y", "AUTHGW_JWKS_URL": "file:///etc/passwd",
           "AUTHGW_TRUST_WINDOW": "soon", "LOG_LEVEL": "chatty", "AUTHGW_ALGORITHMS": "HS256"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    problems = caught.value.problems
    assert len(problems) == 5
    assert any(p.startswith("NOTES_DATABASE_URL") for p in problems)
    assert any(p.startswith("AUTHGW_JWKS_URL") for p in problems)


def test_the_backend_urls_may_name_every_replica_each_one_checked(settings_env):
    replicas = {**settings_env, "AUTHGW_JWKS_URL": "http://10.0.0.1:8000/.well-known/jwks.json, http://10.0.0.2:8000/.well-known/jwks.json"}
    assert load_settings(replicas).jwks_url == ("http://10.0.0.1:8000/.well-known/jwks.json,"
                                                "http://10.0.0.2:8000/.well-known/jwks.json")
    for bad in ("http://10.0.0.1:8000/jwks, file:///etc/passwd", " , "):
        with pytest.raises(ConfigError) as caught:
            load_settings({**settings_env, "AUTHGW_REVOCATIONS_URL": bad})
        assert [p for p in caught.value.problems if p.startswith("AUTHGW_REVOCATIONS_URL")], bad


def test_migrations_use_their_own_version_table_and_are_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    upgrade(url)  # a second start finds nothing to do
    engine = sa.create_engine(url)
    try:
        names = sa.inspect(engine).get_table_names()
        assert "notes" in names and VERSION_TABLE in names and "alembic_version" not in names
        with engine.connect() as connection:
            assert connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == "notes_0001"
    finally:
        engine.dispose()


class SilentServer:
    """A TCP server that accepts connections and never says a word: a hung MariaDB."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        self.sock.close()
        for connection in self.held:
            connection.close()


def test_a_hung_database_answers_503_json_with_retry_after_within_3_seconds(settings_env, jwks, revocations,
                                                                             make_token):
    from authgw_kit import RevocationList, StaticKeys, TokenVerifier

    from conftest import AUDIENCE, ISSUER

    server = SilentServer()
    try:
        feed = RevocationList(fetch=revocations, background=False)
        feed.refresh_now()
        verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=StaticKeys(jwks), revocations=feed)
        env = {**settings_env, "NOTES_DATABASE_URL": f"mysql+pymysql://notes:pw@127.0.0.1:{server.port}/notes"}
        client = create_app(env, verifier=verifier).test_client()
        headers = {"Authorization": f"Bearer {make_token('1')}"}
        for method, path, body in (("GET", "/api/notes", None), ("POST", "/api/notes", {"title": "x"}),
                                   ("GET", "/readyz", None)):
            started = time.monotonic()
            response = client.open(path, method=method, json=body, headers=headers)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, (path, response.get_data(as_text=True))
            assert response.get_json()["error"] == "service_unavailable"
            assert response.headers["Retry-After"] == "5"
            assert elapsed < 3.0, (path, elapsed)
        # Liveness does not need the database.
        assert client.get("/healthz").status_code == 200
    finally:
        server.close()


def test_the_database_password_can_come_from_a_file(settings_env, tmp_path):
    secret = tmp_path / "db-password"
    secret.write_text("p@ss/w:rd\n")
    env = {**settings_env, "NOTES_DATABASE_URL": "mysql+pymysql://app@db:3306/notes?charset=utf8mb4",
           "NOTES_DATABASE_PASSWORD_FILE": str(secret)}
    settings = load_settings(env)
    url = sa.engine.make_url(settings.database_url)
    assert url.password == "p@ss/w:rd" and url.username == "app" and url.database == "notes"
    assert "p@ss" not in repr(settings)


def test_a_missing_password_file_is_reported_with_the_other_problems(settings_env, tmp_path):
    env = {**settings_env, "NOTES_DATABASE_PASSWORD_FILE": str(tmp_path / "nope"), "AUTHGW_ISSUER": ""}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    text = " ".join(caught.value.problems)
    assert "NOTES_DATABASE_PASSWORD_FILE" in text and "does not exist" in text and "AUTHGW_ISSUER" in text


def test_both_signature_algorithms_are_accepted_by_default(settings_env):
    assert load_settings(settings_env).algorithm_list == ("ES256", "RS256")
    assert load_settings({**settings_env, "AUTHGW_ALGORITHMS": " ES256 "}).algorithm_list == ("ES256",)


def test_the_verifier_built_from_the_settings_fetches_keys_and_revocations_over_http(settings_env):
    """The production path: JWK Set and revocation feed over HTTP, an RS256 key accepted."""
    import json
    import uuid

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    from conftest import AUDIENCE, ISSUER

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="rs-1", alg="RS256", use="sig")
    documents = {"/jwks": {"keys": [jwk]},
                 "/revocations": {"generated_at": time.time(), "window": 930, "sessions": {"revoked": 1},
                                  "subjects": {}, "roles": {}}}

    @Request.application
    def serve_documents(request: Request) -> Response:
        return Response(json.dumps(documents[request.path]), content_type="application/json")

    server = make_server("127.0.0.1", 0, serve_documents, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        env = {**settings_env, "AUTHGW_JWKS_URL": f"{base}/jwks", "AUTHGW_REVOCATIONS_URL": f"{base}/revocations"}
        upgrade(env["NOTES_DATABASE_URL"])
        app = create_app(env)
        client = app.test_client()

        def token(sid):
            now = int(time.time())
            claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "9", "iat": now, "exp": now + 600,
                      "jti": uuid.uuid4().hex, "sid": sid, "email": "n@example.com", "name": "N",
                      "roles": ["user"], "permissions": ["notes:read"]}
            return jwt.encode(claims, key, algorithm="RS256", headers={"typ": "at+jwt", "kid": "rs-1"})

        assert client.get("/api/notes", headers={"Authorization": f"Bearer {token('live')}"}).status_code == 200
        revoked = client.get("/api/notes", headers={"Authorization": f"Bearer {token('revoked')}"})
        assert revoked.status_code == 401 and revoked.get_json()["error"] == "invalid_token"
        app.extensions["authgw_kit"].verifier.close()
    finally:
        server.shutdown()
        server.server_close()
