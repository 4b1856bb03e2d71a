"""authgw_kit.metrics: the registry, the /metrics listener and the gunicorn hook bodies."""

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

prometheus_client = pytest.importorskip("prometheus_client")

from authgw_kit import metrics  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Log:
    def __init__(self):
        self.lines = []

    def info(self, message, *args):
        self.lines.append(("info", message % args))

    def error(self, message, *args):
        self.lines.append(("error", message % args))


class Server:
    def __init__(self):
        self.log = Log()


def write_worker_series(folder, name: str, pid: int) -> None:
    """Run a 'worker' process that counts once into ``folder`` (multiprocess mode) and exits."""
    code = ("import os; os.getpid = lambda: %d\n"
            "from prometheus_client import Counter, Gauge\n"
            "Counter(%r, 'test').inc(3)\n"
            "Gauge(%r, 'test', multiprocess_mode='livesum').set(1)\n") % (pid, name, name + "_live")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PROMETHEUS_MULTIPROC_DIR": str(folder)})


def test_without_the_folder_the_process_registry_is_served(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert metrics.metrics_registry() is prometheus_client.REGISTRY


def test_with_the_folder_every_process_series_is_collected(monkeypatch, tmp_path):
    write_worker_series(tmp_path, "kit_test_worker_requests", pid=4242)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = metrics.metrics_registry()
    assert registry is not prometheus_client.REGISTRY
    assert registry.get_sample_value("kit_test_worker_requests_total") == 3.0


def test_worker_exit_drops_its_live_gauges(monkeypatch, tmp_path):
    write_worker_series(tmp_path, "kit_test_exit", pid=4343)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert metrics.metrics_registry().get_sample_value("kit_test_exit_live") == 1.0
    metrics.mark_worker_dead(type("Worker", (), {"pid": 4343})())
    assert metrics.metrics_registry().get_sample_value("kit_test_exit_live") is None
    assert metrics.metrics_registry().get_sample_value("kit_test_exit_total") == 3.0  # counters stay


def test_the_folder_is_made_once_and_emptied_of_series(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # restored after the test, whatever ensure_* sets
    monkeypatch.setattr(metrics.tempfile, "tempdir", str(tmp_path))
    folder = metrics.ensure_multiprocess_dir("svc-metrics-")
    assert folder.startswith(str(tmp_path / "svc-metrics-"))
    assert metrics.ensure_multiprocess_dir("other-") == folder  # kept once set
    old = Path(folder) / "counter_1.db"
    old.write_bytes(b"stale")
    keep = Path(folder) / "README"
    keep.write_text("not a series")
    assert metrics.clear_multiprocess_dir() == folder
    assert not old.exists() and keep.exists()


def test_clear_needs_the_variable(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(KeyError):
        metrics.clear_multiprocess_dir()


def test_metrics_are_served_on_their_address(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    prometheus_client.Counter("kit_test_served", "test").inc()
    assert metrics.start_metrics_server(None) is None
    port = free_port()
    server, thread = metrics.start_metrics_server(("127.0.0.1", port))
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()
        thread.join(5)
    assert "kit_test_served_total 1.0" in text


def test_master_hook_logs_the_address_or_the_failure(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    started = []
    monkeypatch.setattr(metrics, "start_metrics_server", started.append)
    server = Server()
    assert metrics.serve_from_master(server, None) is False and started == [] and server.log.lines == []
    assert metrics.serve_from_master(server, ("127.0.0.1", 9100)) is True
    assert started == [("127.0.0.1", 9100)]
    assert server.log.lines == [("info", "metrics on http://127.0.0.1:9100/metrics")]

    def refuse(address):
        raise OSError("Address already in use")

    monkeypatch.setattr(metrics, "start_metrics_server", refuse)
    server = Server()
    assert metrics.serve_from_master(server, ("127.0.0.1", 9100), unavailable="; no metrics here") is False
    assert server.log.lines == [("error", "metrics: cannot listen on 127.0.0.1:9100 (Address already in use); "
                                          "no metrics here")]


def test_importing_the_module_does_not_import_prometheus_client():
    # prometheus-client picks its storage at import: gunicorn.conf.py imports
    # this module before it sets PROMETHEUS_MULTIPROC_DIR.
    code = "import sys, authgw_kit.metrics; sys.exit('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_request_series_are_named_by_namespace(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    requests, duration = metrics.http_request_metrics("kit_test_svc")
    requests.labels(route="/api/things/<int:id>", method="GET", status="200").inc()
    duration.labels(route=metrics.UNMATCHED_ROUTE, method="POST").observe(0.003)
    registry = prometheus_client.REGISTRY
    assert registry.get_sample_value("kit_test_svc_http_requests_total",
                                     {"route": "/api/things/<int:id>", "method": "GET", "status": "200"}) == 1.0
    bucket = {"route": "unmatched", "method": "POST"}
    assert registry.get_sample_value("kit_test_svc_http_request_duration_seconds_bucket", {**bucket, "le": "0.0025"}) == 0
    assert registry.get_sample_value("kit_test_svc_http_request_duration_seconds_bucket", {**bucket, "le": "0.005"}) == 1
    assert registry.get_sample_value("kit_test_svc_http_request_duration_seconds_bucket", {**bucket, "le": "10.0"}) == 1
    with pytest.raises(ValueError):
        metrics.http_request_metrics("kit_test_svc")  # one set per namespace and process
