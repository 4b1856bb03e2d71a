"""Fixtures of the renderer's unit tests: the renderer as a module, a routes
file written per test, and the environment of a render that touches only
the test's temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewaylib import load_renderer


@pytest.fixture(scope="session")
def renderer():
    return load_renderer()


@pytest.fixture
def base_env(tmp_path) -> dict[str, str]:
    """A native-stack environment inside ``tmp_path``, TLS off."""
    return {"STACK_DIR": str(tmp_path / "stack"), "GATEWAY_PORT": "28080", "BACKEND_PORT": "28000",
            "FRONTEND_PORT": "28081", "NOTES_PORT": "28200", "TLS_CERT_FILE": "",
            "PUBLIC_URL": "http://localhost:28080", "PATH": "/usr/local/bin:/usr/bin:/bin"}


@pytest.fixture
def routes_file(tmp_path):
    """Write a routes declaration; return its path."""
    def write(text: str) -> Path:
        path = tmp_path / "routes.toml"
        path.write_text(text, encoding="utf-8")
        return path
    return write
