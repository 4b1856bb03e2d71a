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
