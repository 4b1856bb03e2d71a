"""authgw_kit.gunicorn: the shared settings are gunicorn's own names and values."""

import os

import pytest

from authgw_kit.gunicorn import service_settings


def test_defaults():
    settings = service_settings("127.0.0.1:8300", environ={})
    assert settings == {
        "bind": "127.0.0.1:8300", "workers": len(os.sched_getaffinity(0)) + 1, "worker_class": "gthread",
        "threads": 4, "keepalive": 30, "timeout": 30, "graceful_timeout": 10, "control_socket_disable": True,
        "accesslog": None, "errorlog": "-", "loglevel": "info", "limit_request_line": 8190,
        "limit_request_field_size": 32768,
    }


def test_environment_overrides():
    settings = service_settings("0.0.0.0:8000", environ={"GUNICORN_WORKERS": "7", "GUNICORN_THREADS": "2",
                                                          "LOG_LEVEL": "WARNING"})
    assert (settings["workers"], settings["threads"], settings["loglevel"]) == (7, 2, "warning")
    with pytest.raises(ValueError):
        service_settings("0.0.0.0:8000", environ={"GUNICORN_WORKERS": "many"})


def test_every_name_is_a_gunicorn_setting_it_accepts():
    gunicorn_config = pytest.importorskip("gunicorn.config")
    config = gunicorn_config.Config()
    for name, value in service_settings("127.0.0.1:8300", environ={}).items():
        assert name in config.settings, name
        config.set(name, value)  # validates the value the way a config file's would be
    assert config.address == [("127.0.0.1", 8300)]
    assert config.limit_request_field_size == 32768 and config.worker_class_str == "gthread"


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is; return (status, headers, body) of the answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
def gunicorn_with_json_errors(tmp_path):
    """A real gunicorn (the shared settings, one worker) whose config calls json_error_pages()."""
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("gunicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "app.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '2')])\n"
        "    return [b'ok']\n")
    (tmp_path / "conf.py").write_text(
        "from authgw_kit.gunicorn import json_error_pages, service_settings\n"
        f"globals().update(service_settings(bind='127.0.0.1:{port}', environ={{'GUNICORN_WORKERS': '1'}}))\n"
        "json_error_pages()\n")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "conf.py"), "app:app"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("request_bytes", [
    "GET /caf\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n".encode("utf-8"),           # non-ASCII request target
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Thing: a\x01b\r\n\r\n",               # control character in a value
    b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\x7fdef\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",     # gunicorn's own 501
])
def test_gunicorns_own_answers_are_json_4xx_without_the_request(gunicorn_with_json_errors, request_bytes):
    import json

    status, headers, body = raw_request(gunicorn_with_json_errors, request_bytes)
    assert 400 <= status < 500
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)
    assert set(error) == {"error", "error_description"} and error["error"] == "invalid_request"
    assert "abc" not in error["error_description"] and "caf" not in error["error_description"]


def test_well_formed_requests_are_untouched(gunicorn_with_json_errors):
    status, _, body = raw_request(gunicorn_with_json_errors, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, body) == (200, b"ok")
