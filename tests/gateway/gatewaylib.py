"""Helpers of the renderer's unit tests: scripts/render-gateway loaded as a
module, and the ways the stack and the container run it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RENDER = REPO / "scripts" / "render-gateway"


def load_renderer():
    """Import scripts/render-gateway (a file without .py) as a module."""
    loader = importlib.machinery.SourceFileLoader("render_gateway", str(RENDER))
    spec = importlib.util.spec_from_loader("render_gateway", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_gateway"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


def run_renderer(output: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run scripts/render-gateway OUTPUT as the stack and the container do."""
    return subprocess.run([sys.executable, str(RENDER), str(output)], env=env, capture_output=True,
                          text=True, timeout=30)


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` of a rendered nginx.conf (Debian's nginx with the Lua module)."""
    prefix.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["nginx", "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                          capture_output=True, text=True, timeout=30)
