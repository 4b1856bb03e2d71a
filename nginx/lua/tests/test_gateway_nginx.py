"""The Lua token check inside a real nginx (Debian's libnginx-mod-http-lua).

A throwaway nginx on 127.0.0.1 loads nginx/lua/authgw; a stub in this
process serves the JWK Set and the revocation snapshot and can be changed
or stopped. The tests run in file order: the last ones stop the stub.
Ports: LUA_TEST_PORT (nginx, default 22280, +1 for a second instance) and
LUA_TEST_STUB_PORT (default 22290).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

LUA_DIR = Path(__file__).resolve().parents[1]
NGINX_PORT = int(os.environ.get("LUA_TEST_PORT", "22280"))
STUB_PORT = int(os.environ.get("LUA_TEST_STUB_PORT", "22290"))
ISSUER, AUDIENCE = "http://gateway.test", "api"
TRUST_WINDOW = 3.0
POLL_INTERVAL = 0.5
BAD_SIGNATURE_LIMIT = 20
UNKNOWN_KID_INTERVAL = 2.0
BASE = f"http://127.0.0.1:{NGINX_PORT}"


def jwk_of(key, kid):
    return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "ES256", "use": "sig"}


class Stub:
    """The backend as the gateway sees it: JWK Set + revocation feed."""

    def __init__(self, port):
        self.jwks = {"keys": []}
        self.snapshot = {"sessions": {}, "subjects": {}, "roles": {}}
        self.jwks_fetches = 0
        self.hung = threading.Event()  # set: answer nothing (a SIGSTOPped backend)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if stub.hung.is_set():
                    time.sleep(30)
                    return
                if self.path == "/.well-known/jwks.json":
                    stub.jwks_fetches += 1
                    body, cc = json.dumps(stub.jwks), "max-age=300"
                elif self.path == "/api/internal/revocations":
                    body = json.dumps({"generated_at": time.time(), "window": 930, **stub.snapshot})
                    cc = "no-store"
                else:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", cc)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


NGINX_CONF = """
{user}
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    lua_package_path "{lua}/?.lua;/usr/share/lua/5.1/?.lua;;";
    lua_shared_dict authgw 4m;
    init_by_lua_block {{
        require("authgw.gateway").init({{
            issuer = "{issuer}", audience = "{audience}",
            jwks_url = {jwks_url},
            revocations_url = {rev_url},
            trust_window = {trust}, poll_interval = {poll}, http_timeout = 1,
            bad_signature_limit = {badsig}, unknown_kid_interval = {unknown_kid},
            routes = {routes},
        }})
    }}
    init_worker_by_lua_block {{ require("authgw.gateway").init_worker() }}
    server {{
        listen 127.0.0.1:{port};
        set $auth_user_id ""; set $auth_email ""; set $auth_roles "";
        set $auth_permissions ""; set $auth_session_id "";
        location = /notes {{
            access_by_lua_block {{ require("authgw.gateway").check("notes") }}
            content_by_lua_block {{
                local v = ngx.var
                ngx.say(require("cjson").encode({{user_id = v.auth_user_id, email = v.auth_email,
                    roles = v.auth_roles, permissions = v.auth_permissions, session_id = v.auth_session_id}}))
            }}
        }}
        location = /plain {{
            access_by_lua_block {{ require("authgw.gateway").check("plain") }}
            content_by_lua_block {{ ngx.say(ngx.var.auth_user_id == "" and "no identity" or "identity leaked") }}
        }}
        location = /open {{
            content_by_lua_block {{ ngx.say("ok") }}
        }}
        location = /emptyaccess {{
            access_by_lua_block {{ return }}
            content_by_lua_block {{ ngx.say("ok") }}
        }}
        location = /checked {{
            access_by_lua_block {{ require("authgw.gateway").check("notes") }}
            content_by_lua_block {{ ngx.say("ok") }}
        }}
        location = /checked-by-table {{
            access_by_lua_block {{
                require("authgw.gateway").check({{permissions = {{GET = "notes:read", ["*"] = "notes:write"}}, identity = true}})
            }}
            content_by_lua_block {{ ngx.say("ok") }}
        }}
        location = /notes-by-table {{
            access_by_lua_block {{
                require("authgw.gateway").check({{permissions = {{GET = "notes:read", ["*"] = "notes:write"}}, identity = true}})
            }}
            content_by_lua_block {{ ngx.say(ngx.var.auth_user_id) }}
        }}
        location = /unnamed {{
            access_by_lua_block {{ require("authgw.gateway").check("no-such-route") }}
            content_by_lua_block {{ ngx.say("the unnamed location answered") }}
        }}
        location = /metrics {{
            content_by_lua_block {{ ngx.print(require("authgw.gateway").metrics()) }}
        }}
        location = /corpus {{
            client_max_body_size 4m; client_body_buffer_size 4m;
            content_by_lua_block {{ assert(loadfile("{tests}/corpus_in_nginx.lua"))() }}
        }}
        location = /bench {{
            client_max_body_size 4m; client_body_buffer_size 4m;
            content_by_lua_block {{ assert(loadfile("{tests}/bench.lua"))() }}
        }}
    }}
}}
"""


#: The routes the test gateway's locations check by name (init's `routes`).
ROUTES = '{notes = {permissions = {GET = "notes:read", ["*"] = "notes:write"}, identity = true}, plain = {identity = false}}'


def lua_urls(ports: list[int], path: str) -> str:
    """A Lua URL setting: one string for one port, else a list."""
    urls = [f'"http://127.0.0.1:{port}{path}"' for port in ports]
    return urls[0] if len(urls) == 1 else "{" + ", ".join(urls) + "}"


def start_nginx(tmp: Path, port: int, rev_path: str = "/api/internal/revocations",
                stub_ports: list[int] | None = None) -> subprocess.Popen:
    tmp.mkdir(parents=True, exist_ok=True)
    ports = stub_ports or [STUB_PORT]
    conf = NGINX_CONF.format(
        user="user root;" if os.geteuid() == 0 else "", dir=tmp, lua=LUA_DIR, tests=LUA_DIR / "tests",
        issuer=ISSUER, audience=AUDIENCE, jwks_url=lua_urls(ports, "/.well-known/jwks.json"),
        rev_url=lua_urls(ports, rev_path), trust=TRUST_WINDOW,
        poll=POLL_INTERVAL, badsig=BAD_SIGNATURE_LIMIT, unknown_kid=UNKNOWN_KID_INTERVAL, routes=ROUTES, port=port)
    (tmp / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("nginx exited: " + proc.stderr.read().decode())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("nginx did not listen on %d" % port)


def stop_nginx(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def keys():
    return {"k1": ec.generate_private_key(ec.SECP256R1()), "k2": ec.generate_private_key(ec.SECP256R1())}


@pytest.fixture(scope="module")
def stub(keys):
    s = Stub(STUB_PORT)
    s.jwks = {"keys": [jwk_of(keys["k1"], "k1")]}
    yield s
    try:
        s.stop()
    except OSError:
        pass


@pytest.fixture(scope="module")
def gateway(stub, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    proc = start_nginx(tmp, NGINX_PORT)
    # Ready when the feed has been polled once.
    deadline = time.time() + 10
    while time.time() < deadline:
        if requests.get(BASE + "/notes").status_code == 401:
            break
        time.sleep(0.1)
    yield tmp
    stop_nginx(proc)


def mint(keys, kid="k1", **over):
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "42", "iat": now, "exp": now + 600,
              "jti": secrets.token_hex(8), "sid": "s-" + secrets.token_hex(4), "email": "a@example.com",
              "name": "A", "roles": ["user"], "permissions": ["notes:read", "notes:write"]}
    claims.update(over)
    return jwt.encode(claims, keys[kid], algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})


def get(token=None, path="/notes", method="GET", scheme="Bearer"):
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return requests.request(method, BASE + path, headers=headers, timeout=5)


def wait_for(predicate, timeout):
    start = time.time()
    while time.time() - start < timeout:
        if predicate():
            return time.time() - start
        time.sleep(0.05)
    return None


# Each worker re-reads the shared dict at most every 0.1 s (shared_doc.RECHECK),
# so for that long after a poll one worker may answer by the new snapshot and
# the other by the old one.
WORKER_LAG = 0.1


def wait_for_every_worker(predicate, timeout):
    """Seconds until `predicate` first held, or None; when it held, it must
    hold for 10 requests in a row once every worker has looked again."""
    took = wait_for(predicate, timeout)
    if took is not None:
        time.sleep(WORKER_LAG * 3)
        assert all(predicate() for _ in range(10)), "the workers still disagree after 0.3 s"
    return took


def assert_error(r, status, code, challenge=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["error"] == code and body["error_description"]
    if challenge is not None:
        assert r.headers["WWW-Authenticate"] == challenge


def corpora():
    """The corpora to judge: LUA_TEST_CORPORA (paths, colon-separated; the
    run script passes the generated ones), else the committed shared one."""
    paths = os.environ.get("LUA_TEST_CORPORA") or str(LUA_DIR.parents[1] / "tests/corpus/corpus.json")
    return [p for p in paths.split(":") if p and Path(p).is_file()]


@pytest.mark.parametrize("path", corpora())
def test_corpus_verdicts_inside_nginx(gateway, path):
    doc = json.loads(Path(path).read_text())
    r = requests.post(BASE + "/corpus", data=json.dumps(doc), timeout=30)
    assert r.status_code == 200, r.text
    got = r.json()
    wrong = {c["name"]: got.get(c["name"]) for c in doc["cases"] if got.get(c["name"]) != c["verdict"]}
    assert wrong == {}, wrong


def test_valid_token_passes_with_identity(gateway, keys):
    token = mint(keys, sub="7", email="u@example.com", sid="sess-1", roles=["user", "admin"])
    r = get(token)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": "7", "email": "u@example.com", "roles": "user,admin",
                        "permissions": "notes:read,notes:write", "session_id": "sess-1"}
    r = get(token)  # cached
    assert r.status_code == 200 and r.json()["user_id"] == "7"


def test_scheme_is_case_insensitive(gateway, keys):
    token = mint(keys)
    assert get(token, scheme="bEaReR").status_code == 200
    assert get(" " + token + " ", scheme="Bearer").status_code == 200  # 1*SP, trailing space


def test_bearer_without_token_is_invalid_token(gateway):
    r = requests.get(BASE + "/notes", headers={"Authorization": "Bearer"})
    assert_error(r, 401, "invalid_token", 'Bearer realm="api", error="invalid_token"')


def test_identity_not_set_when_route_says_no(gateway, keys):
    r = get(mint(keys), path="/plain")
    assert r.status_code == 200 and r.text.strip() == "no identity"


def test_a_route_given_as_a_table_is_checked_like_a_named_one(gateway, keys):
    """check() takes the route itself too (a hand-written location): the
    same verdicts as the named route of /notes."""
    r = get(mint(keys, sub="8"), path="/notes-by-table")
    assert r.status_code == 200 and r.text.strip() == "8"
    assert_error(get(mint(keys, permissions=["notes:write"]), path="/notes-by-table"), 403, "insufficient_scope",
                 'Bearer realm="api", error="insufficient_scope"')
    assert_error(get(path="/notes-by-table"), 401, "invalid_token", 'Bearer realm="api"')


def test_a_route_name_init_was_not_given_lets_nothing_through(gateway, keys):
    r = get(mint(keys), path="/unnamed")
    assert r.status_code == 500 and r.json()["error"] == "server_error"
    assert "the unnamed location answered" not in r.text
    assert 'check("no-such-route"): no route of that name' in (gateway / "error.log").read_text()


def test_missing_token_is_401_with_realm_only(gateway):
    assert_error(get(), 401, "invalid_token", 'Bearer realm="api"')
    assert_error(get("x", scheme="Basic"), 401, "invalid_token", 'Bearer realm="api"')


def test_token_in_query_string_is_ignored(gateway, keys):
    r = requests.get(BASE + "/notes", params={"access_token": mint(keys)})
    assert_error(r, 401, "invalid_token", 'Bearer realm="api"')


def test_forged_token_is_401_invalid_token(gateway, keys):
    forger = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    forged = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "1", "iat": now, "exp": now + 60, "jti": "j",
                         "sid": "s", "email": "e", "name": "n", "roles": [], "permissions": []},
                        forger, algorithm="ES256", headers={"kid": "k1", "typ": "at+jwt"})
    for _ in range(2):  # second time from the negative cache
        assert_error(get(forged), 401, "invalid_token", 'Bearer realm="api", error="invalid_token"')
    assert_error(get("not.a.jwt"), 401, "invalid_token", 'Bearer realm="api", error="invalid_token"')
    assert_error(get("Bearer two words"), 401, "invalid_token", 'Bearer realm="api", error="invalid_token"')
    assert_error(get(mint(keys, exp=int(time.time()) - 120)), 401, "invalid_token")


def test_hostile_json_is_401_without_error_log(gateway, keys):
    import base64
    deep = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
    good = mint(keys).split(".")
    before = (gateway / "error.log").stat().st_size
    for token in (f"{deep}.{good[1]}.{good[2]}", f"{good[0]}.{deep}.{good[2]}"):
        assert_error(get(token), 401, "invalid_token", 'Bearer realm="api", error="invalid_token"')
    with open(gateway / "error.log", encoding="utf-8", errors="replace") as f:
        f.seek(before)
        log = f.read()
    assert "[error]" not in log and "stack traceback" not in log


def test_missing_permission_is_403_insufficient_scope(gateway, keys):
    token = mint(keys, permissions=["notes:read"])
    assert get(token).status_code == 200
    assert_error(get(token, method="POST"), 403, "insufficient_scope",
                 'Bearer realm="api", error="insufficient_scope"')


def test_revoked_session_refused_within_2s(gateway, stub, keys):
    token = mint(keys, sid="to-revoke")
    assert get(token).status_code == 200
    stub.snapshot = {**stub.snapshot, "sessions": {"to-revoke": int(time.time())}}
    took = wait_for_every_worker(lambda: get(token).status_code == 401, 2.0)
    assert took is not None, "revocation not honoured within 2 s"
    assert_error(get(token), 401, "invalid_token")
    print(f"\nrevocation honoured after {took:.2f} s")


def test_subject_not_before_refuses_older_tokens_only(gateway, stub, keys):
    now = int(time.time())
    old = mint(keys, sub="demoted", iat=now - 5)
    assert get(old).status_code == 200
    stub.snapshot = {**stub.snapshot, "subjects": {"demoted": now}}
    assert wait_for(lambda: get(old).status_code == 401, 2.0) is not None
    assert get(mint(keys, sub="demoted", iat=now)).status_code == 200


def test_key_rotation_without_reload(gateway, stub, keys):
    token = mint(keys, kid="k2")
    stub.jwks = {"keys": [jwk_of(keys["k1"], "k1"), jwk_of(keys["k2"], "k2")]}
    r = get(token)
    assert r.status_code == 200, r.text
    assert get(mint(keys, kid="k1")).status_code == 200


def test_unknown_kid_refetch_is_rate_limited(gateway, stub, keys):
    unknown = ec.generate_private_key(ec.SECP256R1())
    keys["k3"] = unknown
    before = stub.jwks_fetches
    for _ in range(20):
        assert get(mint(keys, kid="k3")).status_code == 401
    assert stub.jwks_fetches - before <= 1


def test_a_token_refused_while_the_refetch_was_rate_limited_gets_in_after_the_interval(gateway, stub, keys):
    """A token whose key is published just after the gateway refused it as
    "unknown key" (the refetch spent a moment before) gets in on the first
    try after unknown_kid_interval: that refusal is not remembered."""
    keys["k4"] = ec.generate_private_key(ec.SECP256R1())
    published = dict(stub.jwks)
    conn = requests.Session()  # one keep-alive connection: one worker and its refusal cache
    time.sleep(UNKNOWN_KID_INTERVAL + 0.1)
    assert conn.get(BASE + "/notes", headers={"Authorization": "Bearer " + mint(keys, kid="k4")}).status_code == 401
    stub.jwks = {"keys": [*published["keys"], jwk_of(keys["k4"], "k4")]}
    auth = {"Authorization": "Bearer " + mint(keys, kid="k4")}
    assert conn.get(BASE + "/notes", headers=auth).status_code == 401  # the refetch is spent for now
    try:
        time.sleep(UNKNOWN_KID_INTERVAL + 0.1)
        assert wait_for(lambda: conn.get(BASE + "/notes", headers=auth).status_code == 200, 1.0) is not None, \
            "the refusal of an unknown key outlived the key's publication"
    finally:
        stub.jwks = published


def test_withdrawn_key_drops_cached_tokens(gateway, stub, keys):
    keys.setdefault("k3", ec.generate_private_key(ec.SECP256R1()))
    cached = mint(keys, kid="k1")
    # One keep-alive connection: one worker, whose cache holds the token.
    conn = requests.Session()
    auth = {"Authorization": "Bearer " + cached}
    assert conn.get(BASE + "/notes", headers=auth).status_code == 200
    time.sleep(UNKNOWN_KID_INTERVAL + 0.1)
    stub.jwks = {"keys": [jwk_of(keys["k2"], "k2")]}
    conn.get(BASE + "/notes", headers={"Authorization": "Bearer " + mint(keys, kid="k3")})  # re-fetch
    assert wait_for(lambda: conn.get(BASE + "/notes", headers=auth).status_code == 401, 1.0) is not None, \
        "withdrawn key still trusted"
    # Put k1 back for the tests that follow.
    time.sleep(UNKNOWN_KID_INTERVAL + 0.1)
    stub.jwks = {"keys": [jwk_of(keys["k1"], "k1"), jwk_of(keys["k2"], "k2")]}
    get(mint(keys, kid="k3"))
    assert wait_for(lambda: get(mint(keys)).status_code == 200, 1.0) is not None


def test_bad_signature_flood_is_limited_per_client(gateway, keys):
    time.sleep(1.1)  # the per-client window (1 s) of earlier tests is over
    good = mint(keys).split(".")
    codes = []
    for _ in range(BAD_SIGNATURE_LIMIT + 15):
        sig = jwt.utils.base64url_encode(secrets.token_bytes(64)).decode()
        codes.append(get(f"{good[0]}.{good[1]}.{sig}").status_code)
    assert codes[:BAD_SIGNATURE_LIMIT] == [401] * BAD_SIGNATURE_LIMIT
    assert 429 in codes[BAD_SIGNATURE_LIMIT:]
    time.sleep(1.1)
    assert get(mint(keys)).status_code == 200


def test_tokens_never_in_logs(gateway, keys):
    token = mint(keys)
    get(token)
    get(token + "x")
    log = (gateway / "error.log").read_text()
    assert token.split(".")[2] not in log and token.split(".")[1] not in log


def test_metrics_count_verdicts(gateway):
    time.sleep(1.1)
    text = requests.get(BASE + "/metrics").text
    assert 'authgw_gateway_token_verdicts_total{verdict="valid"}' in text
    assert 'authgw_gateway_token_verdicts_total{verdict="bad_signature"}' in text
    assert "authgw_gateway_revocation_feed_age_seconds" in text


def test_measure_costs(gateway, keys):
    """Print (not assert) the per-request cost inside nginx (docs/gateway-lua.md)."""
    body = {"hot": mint(keys), "cold": [mint(keys) for _ in range(600)]}
    r = requests.post(BASE + "/bench", data=json.dumps(body), timeout=60)
    assert r.status_code == 200, r.text
    figures = r.json()
    speed = ""
    if shutil.which("openssl"):
        out = subprocess.run(["openssl", "speed", "-seconds", "2", "ecdsap256"], capture_output=True,
                             text=True).stdout
        line = [l for l in out.splitlines() if "nistp256" in l and "ecdsa" in l]
        if line:
            # columns: sign (s) verify (s) sign/s verify/s
            verify_per_s = float(line[-1].split()[-1])
            speed = f"openssl speed -seconds 2 ecdsap256: one verify = {1e6 / verify_per_s:.1f} us"
            figures["openssl_ecdsap256_verify_us"] = round(1e6 / verify_per_s, 1)
            figures["cold_over_openssl"] = round(figures["cold_new_token_us"] * verify_per_s / 1e6, 2)
    print("\n" + json.dumps(figures, indent=1) + "\n" + speed)


def check_outage(keys, valid, revoked, fresh, started):
    """During an outage: valid tokens answered at once, the revoked one
    refused, until the trust window is over; then 503 Retry-After: 5."""
    while time.time() - started < TRUST_WINDOW - 1.0:
        for token, status in ((valid, 200), (fresh, 200), (revoked, 401)):
            r = get(token)
            assert r.status_code == status, r.text
            assert r.elapsed.total_seconds() < 0.5, "a request waited on the backend"
        time.sleep(0.2)
    took = wait_for_every_worker(lambda: get(valid).status_code == 503, TRUST_WINDOW + 2.0)
    assert took is not None, "never failed closed"
    r = get(valid)
    assert_error(r, 503, "service_unavailable")
    assert r.headers["Retry-After"] == "5"


def test_hung_backend_keeps_valid_tokens_then_fails_closed_then_recovers(gateway, stub, keys):
    valid, revoked = mint(keys), mint(keys, sid="revoked-before-outage")
    stub.snapshot = {**stub.snapshot, "sessions": {**stub.snapshot["sessions"], "revoked-before-outage": 1}}
    assert wait_for_every_worker(lambda: get(revoked).status_code == 401, 2.0) is not None
    assert get(valid).status_code == 200
    stub.hung.set()
    check_outage(keys, valid, revoked, mint(keys), time.time())
    stub.hung.clear()
    took = wait_for_every_worker(lambda: get(valid).status_code == 200, 5.0)
    assert took is not None, "not back within 5 s of the backend resuming"
    assert get(revoked).status_code == 401
    print(f"\nback {took:.2f} s after the backend resumed")


def test_stopped_backend_keeps_valid_tokens_until_trust_window(gateway, stub, keys):
    valid, revoked = mint(keys), mint(keys, sid="revoked-before-outage")
    assert wait_for(lambda: get(valid).status_code == 200, 2.0) is not None
    stub.stop()
    check_outage(keys, valid, revoked, mint(keys), time.time())


def test_never_polled_feed_is_503(keys, tmp_path_factory):
    """Keys load, but the revocation feed has never answered: fail closed."""
    s = Stub(STUB_PORT)
    s.jwks = {"keys": [jwk_of(keys["k1"], "k1")]}
    proc = start_nginx(tmp_path_factory.mktemp("nginx2"), NGINX_PORT + 1, rev_path="/broken")
    try:
        time.sleep(0.5)
        r = requests.get(f"http://127.0.0.1:{NGINX_PORT + 1}/notes",
                         headers={"Authorization": "Bearer " + mint(keys)}, timeout=10)
        assert_error(r, 503, "service_unavailable")
        assert r.headers["Retry-After"] == "5"
        assert "revocation" in r.json()["error_description"]
    finally:
        stop_nginx(proc)
        s.stop()


# --- several backends: the URL settings are lists, tried in turn ------------------

def test_feeds_fall_over_to_the_next_backend_and_warn_rate_limited(keys, tmp_path_factory):
    """jwks_url and revocations_url list two backends. The first is down:
    keys and revocations come from the second. Then both are down for a
    while (within the trust window): valid tokens still pass, and each
    address gets one warning line per log_interval (10 s), not one per
    poll. Then the first comes up: the gateway polls it, past the trust
    window, and a revocation recorded on the second stays honoured."""
    first_port, second_port = STUB_PORT + 1, STUB_PORT + 2
    second = Stub(second_port)
    second.jwks = {"keys": [jwk_of(keys["k1"], "k1")]}
    tmp = tmp_path_factory.mktemp("nginx-failover")
    proc = start_nginx(tmp, NGINX_PORT + 2, stub_ports=[first_port, second_port])
    base = f"http://127.0.0.1:{NGINX_PORT + 2}"

    def status(token):
        return requests.get(base + "/notes", headers={"Authorization": "Bearer " + token}, timeout=5).status_code

    def warnings(port):
        return [line for line in (tmp / "error.log").read_text().splitlines()
                if "[warn]" in line and "revocation feed fetch failed" in line and f":{port}/" in line]

    def failed_polls():
        text = requests.get(base + "/metrics", timeout=5).text
        return int(re.search(r"^authgw_gateway_rev_poll_failed_total (\d+)", text, re.M).group(1))

    first = None
    try:
        valid, revoked = mint(keys), mint(keys, sid="revoked-on-second")
        assert wait_for(lambda: status(valid) == 200, 5.0) is not None, "no keys/feed from the second backend"
        second.snapshot = {"sessions": {"revoked-on-second": int(time.time())}, "subjects": {}, "roles": {}}
        assert wait_for(lambda: status(revoked) == 401, 2.0) is not None, "revocation via the second not honoured"
        assert len(warnings(first_port)) == 1  # the first poll found the first address down, once
        # Both down, for less than the trust window.
        second.stop()
        second = None
        stopped, polls_before = time.time(), failed_polls()
        while time.time() - stopped < TRUST_WINDOW - 0.8:
            assert status(valid) == 200 and status(revoked) == 401
            time.sleep(0.2)
        time.sleep(1.1)  # the counters reach the shared dict once a second
        polls = failed_polls() - polls_before
        assert polls >= 3, f"only {polls} failed polls"
        assert len(warnings(first_port)) == 1 and len(warnings(second_port)) == 1, \
            (polls, warnings(first_port), warnings(second_port))
        # The first comes up with the same data: polled from it, past the trust window.
        first = Stub(first_port)
        first.jwks = {"keys": [jwk_of(keys["k1"], "k1")]}
        first.snapshot = {"sessions": {"revoked-on-second": int(time.time())}, "subjects": {}, "roles": {}}
        time.sleep(TRUST_WINDOW + 0.5)
        assert status(valid) == 200, "did not fall over to the first backend"
        assert status(revoked) == 401
        log = (tmp / "error.log").read_text()
        assert f"revocation feed now fetched from http://127.0.0.1:{first_port}/" in log
        assert f"revocation feed answered again (http://127.0.0.1:{first_port}/" in log
        assert "earlier failures not logged" not in log  # no second line within 10 s
        assert token_free(log, valid) and token_free(log, revoked)
    finally:
        stop_nginx(proc)
        for stub in (first, second):
            if stub is not None:
                stub.stop()


def token_free(text: str, token: str) -> bool:
    return token.split(".")[1] not in text and token.split(".")[2] not in text


def test_url_and_number_settings_are_validated(tmp_path):
    """A bad entry in a URL list, or a number out of its range, stops nginx
    at start with the setting's name (every problem at once)."""
    conf = NGINX_CONF.format(
        user="user root;" if os.geteuid() == 0 else "", dir=tmp_path, lua=LUA_DIR, tests=LUA_DIR / "tests",
        issuer=ISSUER, audience=AUDIENCE, jwks_url='{"http://127.0.0.1:1/jwks", 7}', rev_url="{}",
        trust=TRUST_WINDOW, poll=POLL_INTERVAL, badsig=1.5, unknown_kid=0, port=NGINX_PORT + 3,
        routes='{notes = {permissions = {get = "notes:read"}}, plain = {identity = "yes"}, odd = {scope = "x"}}')
    (tmp_path / "nginx.conf").write_text(conf)
    # init_by_lua runs when nginx starts (not under `nginx -t`).
    out = subprocess.run(["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert "jwks_url entry 2 must be an http:// or https:// URL" in out.stderr
    assert "revocations_url must be a URL or a non-empty list of URLs" in out.stderr
    assert "bad_signature_limit must be a whole number >= 0 (0: off)" in out.stderr
    assert "unknown_kid_interval must be a number of seconds > 0" in out.stderr
    assert "route notes: permissions: get is not an upper-case method name or *" in out.stderr
    assert "route plain: identity must be true or false" in out.stderr
    assert "route odd: unknown key scope" in out.stderr
