"""Declared routes and the gateway's own answers, against real parts.

Two gateways are exercised:
- the stack's own (``BASE_URL``): NUL/CR/LF paths, request ids, the paths
  that are never published, the access log;
- a second nginx rendered by scripts/render-gateway from a routes file
  written here, with the stack's backend (JWK Set, revocation feed, the
  tokens of a real sign-in) and a throwaway upstream started by the test,
  so that declared services, permissions, public paths and per-route
  identity headers are checked without touching the stack's gateway.
A bad declaration is refused by ``scripts/stack start gateway`` in a
scratch state folder (docs/routes.md).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from stacklib import BASE_URL, ROOT, browser_login, free_port, stack, unique_email, wait_until

STACK_DIR = Path(os.environ.get("STACK_DIR") or ROOT / ".stack")
if not STACK_DIR.is_absolute():
    STACK_DIR = ROOT / STACK_DIR
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with what it received; ``/slow`` paths hang 5 s."""

    seen: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        record = {"path": self.path, "method": self.command, "headers": dict(self.headers.items())}
        EchoHandler.seen.append(record)
        if "/slow" in self.path:
            time.sleep(5)
        body = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def echo_upstream():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def member(base_url):
    """A signed-in user and the permissions its token holds."""
    login = browser_login(unique_email("routes"))
    me = requests.get(f"{base_url}/api/me", headers=login.auth, timeout=10)
    assert me.status_code == 200, me.text
    permissions = me.json()["permissions"]
    assert permissions, "the built-in user role holds no permission to declare a route with"
    return login, me.json()


@pytest.fixture(scope="module")
def routes_gateway(tmp_path_factory, base_url, echo_upstream, member):
    """A second gateway, rendered from a routes file declaring the echo
    upstream three ways; yields its base URL and state folder."""
    _, me = member
    held = me["permissions"][0]
    assert "users:write" not in me["permissions"]
    work = tmp_path_factory.mktemp("routes-gateway")
    routes = work / "routes.toml"
    routes.write_text(f"""
[[service]]
name = "echo"
prefix = "/api/echo"
upstreams = ["${{ECHO_UPSTREAM}}"]
public = ["/api/echo/open", "/api/echo/pub/"]
[service.permissions]
GET = "{held}"
"*" = "users:write"

[[service]]
name = "echo-anon"
prefix = "/api/echo-anon"
upstreams = ["${{ECHO_UPSTREAM}}"]
identity_headers = false
""", encoding="utf-8")
    port, metrics_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STACK_DIR": str(work / "stack"),
        "GATEWAY_PORT": str(port), "BACKEND_PORT": os.environ.get("BACKEND_PORT", "8000"),
        "FRONTEND_PORT": os.environ.get("FRONTEND_PORT", "8081"), "PUBLIC_URL": base_url,
        "TLS_CERT_FILE": "", "GATEWAY_ROUTES_FILE": str(routes), "ECHO_UPSTREAM": echo_upstream,
        "GATEWAY_UPSTREAM_READ_TIMEOUT": "2s", "GATEWAY_WORKER_PROCESSES": "1",
        "GATEWAY_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
    }
    conf = work / "gateway.conf"
    rendered = subprocess.run([str(ROOT / "scripts" / "render-gateway"), str(conf)], env=env,
                              capture_output=True, text=True, timeout=30)
    assert rendered.returncode == 0, rendered.stderr
    prefix = work / "stack" / "nginx" / "gateway"
    error_log = work / "stack" / "log" / "gateway-error.log"
    globals_ = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    command = ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(error_log), "-g", globals_]
    checked = subprocess.run(command[:-2] + ["-t"] + command[-2:], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    login, _ = member

    def ready():
        try:
            # Up, keys fetched and the revocation feed polled once.
            return requests.get(f"{url}/api/echo-anon/ready", headers=login.auth, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    ok, _ = wait_until(ready, timeout=15)
    if not ok:
        process.terminate()
        pytest.fail(f"the routes gateway did not come up: {process.stderr.read().decode() if process.stderr else ''}")
    yield url, work / "stack", f"http://127.0.0.1:{metrics_port}"
    process.terminate()
    process.wait(timeout=10)


# --- declared routes ------------------------------------------------------------

def test_declared_route_reaches_the_service_with_path_and_identity(routes_gateway, member):
    url, *_ = routes_gateway
    login, me = member
    answer = requests.get(f"{url}/api/echo/notes/7?view=full", headers=login.auth, timeout=10)
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["path"] == "/api/echo/notes/7?view=full"
    assert seen["headers"]["X-Auth-User-Id"] == me["id"]
    assert seen["headers"]["X-Auth-Email"] == me["email"]
    assert set(seen["headers"]["X-Auth-Permissions"].split(",")) == set(me["permissions"])
    assert seen["headers"]["X-Auth-Session-Id"]
    assert seen["headers"]["Authorization"] == login.auth["Authorization"]


def test_the_prefix_itself_is_the_service_too(routes_gateway, member):
    url, *_ = routes_gateway
    login, _ = member
    answer = requests.get(f"{url}/api/echo", headers=login.auth, timeout=10)
    assert answer.status_code == 200 and answer.json()["path"] == "/api/echo"


def test_missing_permission_gets_403_insufficient_scope_from_the_gateway(routes_gateway, member):
    url, *_ = routes_gateway
    login, _ = member
    before = len(EchoHandler.seen)
    answer = requests.post(f"{url}/api/echo/notes", headers=login.auth, json={"title": "x"}, timeout=10)
    assert answer.status_code == 403
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == "insufficient_scope"
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="api", error="insufficient_scope"'
    assert len(EchoHandler.seen) == before, "the service was reached without the permission"


def test_declared_route_without_token_gets_401_with_realm(routes_gateway):
    url, *_ = routes_gateway
    answer = requests.get(f"{url}/api/echo/notes", timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_forged_token_on_a_declared_route_gets_invalid_token(routes_gateway, member):
    url, *_ = routes_gateway
    login, _ = member
    header, payload, _ = login.access_token.split(".")
    answer = requests.get(f"{url}/api/echo/notes", headers={"Authorization": f"Bearer {header}.{payload}.AAAA"},
                          timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


SPOOFED = {"X-Auth-User-Id": "999999", "X-Auth-Email": "boss@example.com", "X-Auth-Roles": "admin",
           "X-Auth-Permissions": "users:write", "X-Auth-Session-Id": "stolen"}


def test_spoofed_identity_headers_are_replaced_on_a_declared_route(routes_gateway, member):
    url, *_ = routes_gateway
    login, me = member
    seen = requests.get(f"{url}/api/echo/x", headers=login.auth | SPOOFED, timeout=10).json()["headers"]
    assert seen["X-Auth-User-Id"] == me["id"]
    assert seen["X-Auth-Session-Id"] != "stolen" and "admin" not in seen.get("X-Auth-Roles", "")


def test_identity_headers_can_be_switched_off_per_route(routes_gateway, member):
    url, *_ = routes_gateway
    login, _ = member
    answer = requests.get(f"{url}/api/echo-anon/x", headers=login.auth | SPOOFED, timeout=10)
    assert answer.status_code == 200
    seen = answer.json()["headers"]
    assert not [name for name in seen if name.lower().startswith("x-auth-")], seen
    # The service verifies the token itself.
    assert seen["Authorization"] == login.auth["Authorization"]
    assert requests.get(f"{url}/api/echo-anon/x", timeout=10).status_code == 401


def test_public_paths_need_no_token_and_carry_no_identity(routes_gateway):
    url, *_ = routes_gateway
    for path in ("/api/echo/open", "/api/echo/pub/", "/api/echo/pub/deeper/file"):
        answer = requests.get(f"{url}{path}", headers=SPOOFED, timeout=10)
        assert answer.status_code == 200, path
        assert not [n for n in answer.json()["headers"] if n.lower().startswith("x-auth-")], path
    # Exact means exact.
    assert requests.get(f"{url}/api/echo/open/more", timeout=10).status_code == 401
    assert requests.get(f"{url}/api/echo/openx", timeout=10).status_code == 401


def test_request_id_reaches_the_service_and_comes_back(routes_gateway, member):
    url, *_ = routes_gateway
    login, _ = member
    answer = requests.get(f"{url}/api/echo/x", headers=login.auth | {"X-Request-ID": "trace-42.a:b"}, timeout=10)
    assert answer.headers["X-Request-ID"] == "trace-42.a:b"
    assert answer.json()["headers"]["X-Request-ID"] == "trace-42.a:b"
    fresh = requests.get(f"{url}/api/echo/x", headers=login.auth | {"X-Request-ID": "bad id"}, timeout=10)
    assert HEX_ID.match(fresh.headers["X-Request-ID"])
    assert fresh.json()["headers"]["X-Request-ID"] == fresh.headers["X-Request-ID"]


def test_hung_service_gets_json_504_within_the_read_timeout_and_logs_no_query(routes_gateway, member):
    url, stack_dir, _ = routes_gateway
    login, _ = member
    started = time.monotonic()
    answer = requests.get(f"{url}/api/echo/slow?code=SECRETCODE&state=SECRETSTATE", headers=login.auth, timeout=15)
    elapsed = time.monotonic() - started
    assert answer.status_code == 504 and answer.json()["error"] == "gateway_timeout"
    assert answer.headers["Cache-Control"] == "no-store" and HEX_ID.match(answer.headers["X-Request-ID"])
    assert elapsed < 4, elapsed  # GATEWAY_UPSTREAM_READ_TIMEOUT=2s
    access_log = stack_dir / "log" / "gateway-access.log"
    line, _ = wait_until(lambda: next((l for l in access_log.read_text().splitlines()
                                       if answer.headers["X-Request-ID"] in l), None), timeout=5)
    assert line, "the request id is not in the access log"
    entry = json.loads(line)
    assert (entry["uri"], entry["status"]) == ("/api/echo/slow", 504)
    logs = access_log.read_text() + (stack_dir / "log" / "gateway-error.log").read_text()
    assert "SECRETCODE" not in logs and "SECRETSTATE" not in logs


def test_check_counters_are_on_the_internal_listener_only(routes_gateway, member):
    url, _, metrics_url = routes_gateway
    login, _ = member
    requests.get(f"{url}/api/echo/x", headers=login.auth, timeout=10)
    requests.post(f"{url}/api/echo/x", headers=login.auth, timeout=10)

    def counted():
        text = requests.get(f"{metrics_url}/metrics", timeout=5).text
        return ('verdict="valid"' in text and 'verdict="insufficient_scope"' in text) and text
    text, _ = wait_until(counted, timeout=5)
    assert text, requests.get(f"{metrics_url}/metrics", timeout=5).text
    assert "authgw_gateway_revocation_feed_age_seconds" in text
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 404


# --- the stack's gateway -----------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/me%00", "/%00", "/api/me%0d%0a", "/api/notes%0a", "/x%0dy", "/api/auth/login%00"])
def test_nul_cr_lf_in_paths_get_json_400(base_url, path):
    answer = requests.get(f"{base_url}{path}", timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == "invalid_request"
    assert HEX_ID.match(answer.headers["X-Request-ID"])


def raw_exchange(base_url: str, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` as is (no client library fixes it); return (head, body)."""
    host, port = re.match(r"https?://([^:/]+):?(\d*)", base_url).groups()
    with socket.create_connection((host, int(port or 80)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize("raw", [b"/api/me\x00", b"/a\rb"])
def test_raw_control_bytes_in_the_request_line_get_json_400(base_url, raw):
    head, body = raw_exchange(base_url, b"GET " + raw + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"] == "invalid_request"


CLOSE = b"Host: localhost\r\nConnection: close\r\n"


@pytest.mark.parametrize("request_bytes", [
    "GET /api/health?q=caf\u00e9 HTTP/1.1\r\n".encode() + CLOSE + b"\r\n",       # raw non-ASCII target
    "GET /api/notes/\u00e9 HTTP/1.1\r\n".encode() + CLOSE + b"\r\n",
    "GET /caf\u00e9 HTTP/1.1\r\n".encode() + CLOSE + b"\r\n",                    # the SPA's location
    b"GET /api/health HTTP/1.1\r\n" + CLOSE + b"X-Thing: a\x01b\r\n\r\n",          # control byte in a value
    b"GET /.well-known/jwks.json HTTP/1.1\r\n" + CLOSE + b"X-Thing: a\x7fb\r\n\r\n",
    b"POST /api/auth/refresh HTTP/1.1\r\n" + CLOSE + b"Transfer-Encoding: gzip\r\n\r\n",  # nginx: 501
    b"GET /api/health HTTP/2.0\r\n" + CLOSE + b"\r\n",                              # nginx: 505
    b"GET /api/health HTTP/9.9\r\n" + CLOSE + b"\r\n",
], ids=["target-query", "target-notes", "target-spa", "value-01", "value-7f", "transfer-coding", "http-2.0",
        "http-9.9"])
def test_requests_no_server_can_parse_get_json_400_from_whoever_refuses_them(base_url, request_bytes):
    """Bad input is a JSON 4xx whether the gateway refuses it or a service's
    HTTP server does (gunicorn, with authgw_kit.gunicorn.json_error_pages)."""
    head, body = raw_exchange(base_url, request_bytes)
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"Content-Type: application/json" in head, head
    assert json.loads(body)["error"] == "invalid_request"


def test_static_files_answer_errors_in_json_too(base_url):
    head, body = raw_exchange(base_url, b"GET / HTTP/1.1\r\n" + CLOSE + b"Range: bytes=999999999-\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 416") and b"Content-Type: application/json" in head, head
    assert json.loads(body)["error"] == "range_not_satisfiable"
    answer = requests.post(f"{base_url}/index.html", data="x", timeout=10)
    assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"
    assert answer.headers["Allow"] == "GET, HEAD"


def test_every_405_names_the_allowed_methods(base_url):
    """RFC 9110 §15.5.6: the gateway's own 405 (nginx refuses TRACE) lists
    the methods it forwards; a service's 405 keeps the service's Allow."""
    answer = requests.request("TRACE", f"{base_url}/api/me", timeout=10)
    assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"
    assert answer.headers["Allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    answer = requests.delete(f"{base_url}/api/health", timeout=10)
    assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"
    assert [v.strip() for v in answer.headers["Allow"].split(",")].count("GET") == 1
    assert "DELETE" not in answer.headers["Allow"]


def test_a_sane_request_id_is_echoed_on_success_and_on_errors(base_url):
    for path, status in (("/api/health", 200), ("/api/me", 401), ("/api/internal/revocations", 404)):
        answer = requests.get(f"{base_url}{path}", headers={"X-Request-ID": "client-req.7:x"}, timeout=10)
        assert answer.status_code == status, path
        assert answer.headers["X-Request-ID"] == "client-req.7:x", path


@pytest.mark.parametrize("value", ["has space", "x" * 129, "semi;colon", "quote\"d", "caf\u00e9"])
def test_an_insane_request_id_is_replaced_by_a_fresh_one(base_url, value):
    answer = requests.get(f"{base_url}/api/health", headers={"X-Request-ID": value.encode()}, timeout=10)
    assert HEX_ID.match(answer.headers["X-Request-ID"]), answer.headers["X-Request-ID"]


def test_every_answer_has_a_fresh_request_id(base_url):
    ids = {requests.get(f"{base_url}/api/health", timeout=10).headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3 and all(HEX_ID.match(i) for i in ids)


@pytest.mark.parametrize("path", ["/api/internal/revocations", "/api/internal", "/api/auth/verify", "/metrics",
                                  "/metrics/x", "/api/metrics", "/api", "/api/_gateway/errors/400"])
def test_internal_paths_are_404_at_the_gateway(base_url, signed_in, path):
    answer = requests.get(f"{base_url}{path}", headers=signed_in.auth, timeout=10)
    assert answer.status_code == 404, path
    assert answer.json()["error"] == "not_found"


def test_access_log_has_request_ids_and_no_query_strings(base_url):
    request_id = f"log-check-{time.time_ns()}"
    requests.get(f"{base_url}/api/auth/callback?code=SECRETCODE&state=SECRETSTATE",
                 headers={"X-Request-ID": request_id}, allow_redirects=False, timeout=10)
    access_log = STACK_DIR / "log" / "gateway-access.log"
    if not access_log.exists():
        pytest.fail(f"no gateway access log at {access_log} (STACK_DIR)")
    line, _ = wait_until(lambda: next((l for l in access_log.read_text().splitlines() if request_id in l), None),
                         timeout=5)
    assert line, "the request id is not in the access log"
    assert json.loads(line)["uri"] == "/api/auth/callback"
    text = access_log.read_text()
    error_log = STACK_DIR / "log" / "gateway-error.log"
    if error_log.exists():
        text += error_log.read_text()
    assert "SECRETCODE" not in text and "SECRETSTATE" not in text


def test_access_log_lines_stay_utf8_json_whatever_bytes_the_client_sends(base_url):
    """escape=json copies bytes >= 0x80 as they are: a refused raw target or
    a User-Agent that is not UTF-8 is logged as "(not UTF-8)", well-formed
    UTF-8 as sent, and every line stays JSON a log shipper can read."""
    request_id = f"utf8-check-{time.time_ns()}"
    sent = {
        "bad": (b"/api/me\xff", b"ua\xc0\xaf"),             # overlong, then a lone 0xff
        "surrogate": (b"/api/health", b"\xed\xa0\x80"),     # CESU-8 surrogate: not UTF-8
        "good": (b"/api/health", "caf\u00e9 \U0001F600".encode()),
    }
    for name, (target, agent) in sent.items():
        raw_exchange(base_url, b"GET " + target + b" HTTP/1.1\r\n" + CLOSE + b"X-Request-ID: "
                     + f"{request_id}-{name}".encode() + b"\r\nUser-Agent: " + agent + b"\r\n\r\n")
    access_log = STACK_DIR / "log" / "gateway-access.log"

    def logged():
        lines = [json.loads(line.decode("utf-8")) for line in access_log.read_bytes().splitlines()]
        found = {line["request_id"].rsplit("-", 1)[1]: line for line in lines
                 if line["request_id"].startswith(request_id)}
        return found if len(found) == len(sent) else None

    found, _ = wait_until(logged, timeout=5)
    assert found, "the requests are not in the access log"
    assert (found["bad"]["uri"], found["bad"]["user_agent"], found["bad"]["status"]) == ("(not UTF-8)", "(not UTF-8)", 400)
    assert found["surrogate"]["user_agent"] == "(not UTF-8)"
    assert (found["good"]["uri"], found["good"]["user_agent"]) == ("/api/health", "caf\u00e9 \U0001F600")


# --- a bad declaration ----------------------------------------------------------

def test_a_bad_routes_declaration_is_refused_at_start_with_every_problem(tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text('[[service]]\nname = "x"\nprefix = "/api/admin"\nupstreams = ["nowhere"]\ncolour = 1\n',
                      encoding="utf-8")
    result = stack("start", "gateway", check=False,
                   env={"STACK_DIR": str(tmp_path / "stack"), "GATEWAY_PORT": str(free_port()),
                        "GATEWAY_ROUTES_FILE": str(routes)})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    logs = tmp_path / "stack" / "log"
    if logs.is_dir():
        output += "".join(path.read_text(errors="replace") for path in logs.glob("*.log"))
    for problem in ("shadows the backend's own /api/admin", "'nowhere' is not host:port", "unknown key 'colour'"):
        assert problem in output, output
    assert requests.get(f"{BASE_URL}/api/health", timeout=10).status_code == 200


def test_nginx_redirects_never_name_the_client_s_host(base_url):
    """A prefix location asked for without its slash redirects relatively:
    a Location built from a forged Host header would send the client away."""
    answer = requests.get(f"{base_url}/api/public", headers={"Host": "evil.example"}, allow_redirects=False,
                          timeout=10)
    assert answer.status_code == 301
    assert answer.headers["Location"] == "/api/public/"
