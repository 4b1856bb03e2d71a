"""HTTPS at the gateway and running behind a load balancer
(docs/deployment.md "HTTPS"), checked on a real nginx with the rendered
native configuration and a stand-in upstream that records what it receives.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deploylib import RENDER, render_gateway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingUpstream(BaseHTTPRequestHandler):
    """Answers every request 200 and remembers its headers."""

    seen: list[dict[str, str]] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        RecordingUpstream.seen.append({key.lower(): value for key, value in self.headers.items()})
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    RecordingUpstream.seen = []
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture()
def tls_gateway(tmp_path, self_signed, upstream, nginx_bin):
    """The native gateway with TLS and a trusted load balancer at 127.0.0.1,
    running in the foreground; yields (http port, https port)."""
    cert, key = self_signed
    http_port, https_port = free_port(), free_port()
    stack = tmp_path / "stack"
    conf = tmp_path / "gateway.conf"
    env = {
        "STACK_DIR": str(stack), "GATEWAY_PORT": str(http_port), "GATEWAY_TLS_PORT": str(https_port),
        "BACKEND_PORT": str(upstream), "FRONTEND_PORT": str(upstream),
        "TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key),
        "PUBLIC_URL": f"https://localhost:{https_port}", "GATEWAY_REAL_IP_FROM": "127.0.0.1",
    }
    result = render_gateway(RENDER, conf, env)
    assert result.returncode == 0, result.stderr
    prefix = stack / "nginx" / "gateway"
    process = subprocess.Popen(
        [nginx_bin, "-p", str(prefix), "-c", str(conf), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gateway did not start: {process.stderr.read().decode()}")
                time.sleep(0.05)
        yield http_port, https_port
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def https_get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the throwaway certificate
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    return response


def test_plain_http_is_redirected_to_the_public_https_origin(tls_gateway):
    http_port, https_port = tls_gateway
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
    connection.request("POST", "/api/auth/refresh?x=1", headers={"Host": "attacker.example"})
    response = connection.getresponse()
    assert response.status == 308
    assert response.getheader("Location") == f"https://localhost:{https_port}/api/auth/refresh?x=1"
    assert response.getheader("Strict-Transport-Security") is None


def test_https_answers_carry_hsts_and_reach_the_upstream(tls_gateway):
    _, https_port = tls_gateway
    response = https_get(https_port, "/api/health")
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert RecordingUpstream.seen[-1]["x-forwarded-proto"] == "https"


def test_forwarded_proto_and_client_address_from_a_trusted_load_balancer(tls_gateway):
    _, https_port = tls_gateway
    response = https_get(https_port, "/api/health",
                         {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    assert response.status == 200
    seen = RecordingUpstream.seen[-1]
    # A chain, as werkzeug's ProxyFix reads it: TRUSTED_PROXY_COUNT=2 takes
    # the load balancer's entry.
    assert seen["x-forwarded-proto"] == "https, https"
    assert seen["x-forwarded-for"].split(", ")[-2:] == ["203.0.113.7", "203.0.113.7"]
    assert seen["x-real-ip"] == "203.0.113.7"


def test_render_refuses_tls_with_an_http_public_url(tmp_path, self_signed):
    cert, key = self_signed
    result = render_gateway(RENDER, tmp_path / "gateway.conf", {
        "STACK_DIR": str(tmp_path / "stack"), "TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key),
        "PUBLIC_URL": "http://localhost:8080",
    })
    assert result.returncode != 0
    assert "PUBLIC_URL" in result.stderr


@pytest.mark.parametrize("missing", ["cert", "key"])
def test_render_refuses_half_a_tls_configuration(tmp_path, self_signed, missing):
    cert, key = self_signed
    files = {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key)}
    files["TLS_CERT_FILE" if missing == "cert" else "TLS_KEY_FILE"] = str(tmp_path / "absent.pem")
    result = render_gateway(RENDER, tmp_path / "gateway.conf", {
        "STACK_DIR": str(tmp_path / "stack"), "PUBLIC_URL": "https://localhost:8443", **files,
    })
    assert result.returncode != 0
    assert "TLS needs both" in result.stderr


def test_empty_tls_cert_file_keeps_tls_off_and_removes_old_snippets(tmp_path, self_signed):
    cert, key = self_signed
    stack = tmp_path / "stack"
    base = {"STACK_DIR": str(stack), "PUBLIC_URL": "https://localhost:8443"}
    assert render_gateway(RENDER, tmp_path / "g.conf", base | {"TLS_CERT_FILE": str(cert),
                                                                "TLS_KEY_FILE": str(key)}).returncode == 0
    assert (stack / "nginx" / "gateway.d" / "server-tls.conf").exists()
    assert render_gateway(RENDER, tmp_path / "g.conf", base | {"TLS_CERT_FILE": ""}).returncode == 0
    assert not (stack / "nginx" / "gateway.d" / "server-tls.conf").exists()
    assert not (stack / "nginx" / "gateway.d" / "http-tls.conf").exists()


def test_render_refuses_a_real_ip_source_that_is_not_an_address(tmp_path):
    result = render_gateway(RENDER, tmp_path / "gateway.conf", {
        "STACK_DIR": str(tmp_path / "stack"), "TLS_CERT_FILE": "",
        "GATEWAY_REAL_IP_FROM": "10.0.0.0/8; include /etc/passwd",
    })
    assert result.returncode != 0
    assert "GATEWAY_REAL_IP_FROM" in result.stderr
