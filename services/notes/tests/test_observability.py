"""Request lines in the JSON logs and Prometheus series of the notes service (docs/operations.md)."""

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.request

import pytest
from prometheus_client import REGISTRY

from notes.config import ConfigError, load_settings
from notes.logs import JsonFormatter
from notes.metrics import start_metrics_server


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("notes.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_one_json_line_per_request_with_id_route_status_and_user(client, auth, log_lines):
    client.get("/api/notes", headers={**auth("7"), "X-Request-ID": "req-notes-1"})
    (line,) = log_lines()
    assert line["message"] == "request" and line["request_id"] == "req-notes-1"
    assert (line["method"], line["route"], line["status"], line["user_id"]) == ("GET", "/api/notes", 200, "7")
    assert line["duration_ms"] >= 0


def test_request_lines_hold_no_token(client, auth, log_lines):
    headers = auth("7")
    client.get("/api/notes", headers=headers)
    client.get("/api/notes", headers={"Authorization": "Bearer not.a.token"})
    text = json.dumps(log_lines())
    assert headers["Authorization"].split()[1] not in text and "not.a.token" not in text


def test_health_probes_are_not_logged_at_info(client, log_lines):
    client.get("/healthz")
    assert log_lines() == []


def test_requests_and_token_verdicts_are_counted(client, auth):
    before = metric("notes_http_requests_total", route="/api/notes", method="GET", status="200")
    verdicts = {v: metric("notes_token_checks_total", verdict=v) for v in ("valid", "missing", "invalid")}
    client.get("/api/notes", headers=auth("7"))
    client.get("/api/notes")
    client.get("/api/notes", headers={"Authorization": "Bearer x.y.z"})
    assert metric("notes_http_requests_total", route="/api/notes", method="GET", status="200") == before + 1
    assert metric("notes_token_checks_total", verdict="valid") == verdicts["valid"] + 1
    assert metric("notes_token_checks_total", verdict="missing") == verdicts["missing"] + 1
    assert metric("notes_token_checks_total", verdict="invalid") == verdicts["invalid"] + 1


def test_metrics_are_served_on_their_own_address(client, auth):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server, _thread = start_metrics_server(("127.0.0.1", port))
    try:
        client.get("/api/notes", headers=auth("7"))
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "notes_http_requests_total" in text and "notes_http_request_duration_seconds" in text
    finally:
        server.shutdown()
    public = client.get("/metrics")  # the app itself never serves them (401: no route, no token)
    assert public.status_code in (401, 404) and b"notes_http_requests_total" not in public.data


def test_the_metrics_address_is_validated(settings_env):
    assert load_settings(settings_env).metrics_address is None
    assert load_settings({**settings_env, "NOTES_METRICS_BIND": "127.0.0.1:9201"}).metrics_address == ("127.0.0.1", 9201)
    with pytest.raises(ConfigError, match="NOTES_METRICS_BIND"):
        load_settings({**settings_env, "NOTES_METRICS_BIND": "nowhere"})
