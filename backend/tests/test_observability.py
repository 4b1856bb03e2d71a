"""Request ids, JSON log lines and Prometheus metrics (docs/operations.md)."""

from __future__ import annotations

import io
import json
import socket
import urllib.request

import pytest
from prometheus_client import REGISTRY

from authgw.observability import configure_logging, start_metrics_server

from .flows import bearer


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def json_logs():
    """Switch the process to JSON lines and return a reader of the lines logged since."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    configure_logging("WARNING", "console")


def test_a_sane_request_id_is_kept_and_repeated(client):
    response = client.get("/api/health", headers={"X-Request-ID": "abc-123.def:4"})
    assert response.headers["X-Request-ID"] == "abc-123.def:4"


@pytest.mark.parametrize("bad", ["a b", "x" * 129, "id;drop", '"quoted"'])
def test_an_insane_request_id_is_replaced_by_a_fresh_one(client, bad):
    response = client.get("/api/health", headers={"X-Request-ID": bad})
    assert response.headers["X-Request-ID"] != bad
    assert len(response.headers["X-Request-ID"]) == 32


def test_error_answers_carry_a_request_id_too(client):
    for response in (client.get("/api/me"), client.get("/api/nope"), client.post("/api/health")):
        assert response.status_code in (401, 404, 405)
        assert response.headers.get("X-Request-ID")


def test_one_json_line_per_request_with_id_route_status_duration_and_user(client, signed_in, json_logs):
    client.get("/api/me", headers={**signed_in.auth, "X-Request-ID": "req-42"})
    lines = [line for line in json_logs() if line["event"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-42"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/me", 200)
    assert line["user_id"] == str(signed_in.user_id)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "info" and "timestamp" in line


def test_log_lines_never_hold_a_token_a_query_or_a_cookie(client, signed_in, json_logs):
    client.get("/api/auth/callback?code=secret-code-123&state=secret-state-456")
    client.get("/api/me", headers=signed_in.auth)
    client.get("/api/me", headers=bearer("not.a-valid.token-xyz"))
    client.post("/api/auth/refresh", json={"refresh_token": signed_in.refresh_token})
    text = json.dumps(json_logs())
    for secret in (signed_in.access_token, signed_in.refresh_token, "secret-code-123", "secret-state-456",
                   "not.a-valid.token-xyz"):
        assert secret not in text


def test_polled_routes_are_logged_at_debug_only(client, json_logs):
    client.get("/api/health")
    client.get("/api/internal/revocations")
    assert [line for line in json_logs() if line["event"] == "request"] == []


def test_unmatched_routes_share_one_label(client, json_logs):
    client.get("/api/does-not-exist/12345")
    (line,) = [line for line in json_logs() if line["event"] == "request"]
    assert line["route"] == "unmatched" and line["status"] == 404


def test_security_events_are_logged_when_committed(client, signed_in, json_logs):
    client.post("/api/auth/logout-all", headers=signed_in.auth)
    events = [line for line in json_logs() if line["event"] == "security_event"]
    assert [e["audit_event"] for e in events] == ["logout_all"]
    assert events[0]["user_id"] == str(signed_in.user_id)
    assert events[0]["request_id"]


def test_requests_are_counted_by_route_and_status(client):
    before = metric("authgw_http_requests_total", route="/api/health", method="GET", status="200")
    duration_before = metric("authgw_http_request_duration_seconds_count", route="/api/health", method="GET")
    client.get("/api/health")
    assert metric("authgw_http_requests_total", route="/api/health", method="GET", status="200") == before + 1
    assert metric("authgw_http_request_duration_seconds_count", route="/api/health", method="GET") \
        == duration_before + 1


def test_token_check_verdicts_are_counted_by_reason(client, signed_in):
    counts = {v: metric("authgw_token_checks_total", verdict=v) for v in ("valid", "missing", "invalid", "revoked")}
    client.get("/api/ping", headers=signed_in.auth)
    client.get("/api/ping")
    client.get("/api/ping", headers=bearer("a.b.c"))
    client.post("/api/auth/logout", json={"refresh_token": signed_in.refresh_token})
    client.get("/api/ping", headers=signed_in.auth)  # its session is revoked now
    assert metric("authgw_token_checks_total", verdict="valid") == counts["valid"] + 1
    assert metric("authgw_token_checks_total", verdict="missing") == counts["missing"] + 1
    assert metric("authgw_token_checks_total", verdict="invalid") == counts["invalid"] + 1
    assert metric("authgw_token_checks_total", verdict="revoked") == counts["revoked"] + 1


def test_refresh_outcomes_are_counted(client, signed_in):
    counts = {o: metric("authgw_refresh_total", outcome=o) for o in ("rotated", "grace", "unknown")}
    assert client.post("/api/auth/refresh", json={"refresh_token": signed_in.refresh_token}).status_code == 200
    assert client.post("/api/auth/refresh", json={"refresh_token": signed_in.refresh_token}).status_code == 200
    assert client.post("/api/auth/refresh", json={"refresh_token": "nope"}).status_code == 401
    assert metric("authgw_refresh_total", outcome="rotated") == counts["rotated"] + 1
    assert metric("authgw_refresh_total", outcome="grace") == counts["grace"] + 1
    assert metric("authgw_refresh_total", outcome="unknown") == counts["unknown"] + 1


def test_rate_limit_refusals_are_counted(make_app):
    app = make_app(RATELIMIT_ENABLED="true", RATELIMIT_LOGIN="1/minute")
    client = app.test_client()
    before = metric("authgw_rate_limited_total", route="/api/auth/login")
    statuses = [client.get("/api/auth/login").status_code for _ in range(3)]
    assert 429 in statuses
    assert metric("authgw_rate_limited_total", route="/api/auth/login") == before + statuses.count(429)


def test_metrics_are_served_on_their_own_address_only(client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server, thread = start_metrics_server(("127.0.0.1", port))
    try:
        client.get("/api/health")
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "authgw_http_requests_total" in text and "authgw_refresh_total" in text
        assert "authgw_revocation_feed_age_seconds" in text and "authgw_db_pool_connections_in_use" in text
    finally:
        server.shutdown()
    assert client.get("/metrics").status_code == 404


def test_metrics_off_when_no_address():
    assert start_metrics_server(None) is None
