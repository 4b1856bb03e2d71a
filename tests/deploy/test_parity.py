"""One gateway template and one backend entrypoint serve compose and the
native stack (docs/deployment.md "Parity").

The gateway image is rebuilt as a folder from the COPY lines of
nginx/Dockerfile and rendered with its own copy of scripts/render-gateway and
the environment of nginx/Dockerfile + docker-compose.yml; the native stack
renders with the repository's script and scripts/stack's environment. Both
renderings must be nginx/gateway.conf.template with only its ${NAME}
placeholders filled in, and both must pass ``nginx -t``, with and without TLS.

Debian's nginx is 1.22: it knows neither the ``resolve`` parameter of
upstream servers (nginx >= 1.27.3, the compose image) nor Docker's service
names, so for its ``nginx -t`` only those two things are adapted
(``for_debian_nginx``); the text compared with the template is the
unmodified compose rendering.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from deploylib import (
    CONTAINER_REPO, RENDER, REPO, TEMPLATE, build_gateway_image_tree, dockerfile_copies, dockerfile_env,
    dockerfile_instructions, for_debian_nginx, load_compose, nginx_test, render_gateway, service_environment,
    template_pattern,
)

GATEWAY_DOCKERFILE = REPO / "nginx" / "Dockerfile"
BACKEND_DOCKERFILE = REPO / "backend" / "Dockerfile"


def compose_gateway_env() -> dict[str, str]:
    """The gateway container's environment with every compose default: the
    image's ENV, overridden by the service's ``environment``."""
    service = load_compose()["services"]["gateway"]
    return dockerfile_env(GATEWAY_DOCKERFILE) | service_environment(service)


def in_root(root: Path, env: dict[str, str]) -> dict[str, str]:
    """Move the container's writable paths under ``root`` (the image tree),
    leaving /dev/* and the njs module (same path on Debian) alone."""
    moved = {}
    for key, value in env.items():
        if key in ("GATEWAY_STATE_DIR", "GATEWAY_INCLUDE_DIR") or (
            key.endswith("_LOG") and not value.startswith("/dev/")
        ):
            value = str(root / value.lstrip("/"))
        moved[key] = value
    return moved


def native_env(stack_dir: Path, **extra: str) -> dict[str, str]:
    """What scripts/stack hands render-gateway (its ports; TLS off unless given)."""
    env = {"STACK_DIR": str(stack_dir), "GATEWAY_PORT": "28080", "BACKEND_PORT": "28000",
           "FRONTEND_PORT": "28081", "TLS_CERT_FILE": "", "PUBLIC_URL": "http://localhost:28080"}
    return env | extra


def render_compose(tmp_path: Path, **extra: str) -> tuple[Path, Path, dict[str, str]]:
    """Render like the gateway container does. Returns (image root, rendered
    nginx.conf, environment used)."""
    root = tmp_path / "image"
    image_repo = build_gateway_image_tree(root)
    env = in_root(root, compose_gateway_env()) | extra
    output = root / "etc" / "nginx" / "nginx.conf"
    result = render_gateway(image_repo / "scripts" / "render-gateway", output, env)
    assert result.returncode == 0, result.stderr
    return root, output, env


def assert_nginx_test(conf: Path, prefix: Path) -> None:
    result = nginx_test(conf, prefix)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def debian_copy(conf: Path) -> Path:
    """The compose rendering adapted for Debian's nginx 1.22 (see module doc)."""
    env = compose_gateway_env()
    hosts = {env["BACKEND_UPSTREAM"]: "127.0.0.1:" + env["BACKEND_UPSTREAM"].rsplit(":", 1)[1],
             env["FRONTEND_UPSTREAM"]: "127.0.0.1:" + env["FRONTEND_UPSTREAM"].rsplit(":", 1)[1]}
    adapted = conf.with_name("nginx-debian.conf")
    adapted.write_text(for_debian_nginx(conf.read_text(encoding="utf-8"), hosts), encoding="utf-8")
    return adapted


# --- the gateway image carries the repository's template, njs and script ------

def test_gateway_image_copies_the_template_njs_and_render_script(tmp_path):
    sources = {source for sources, _ in dockerfile_copies(GATEWAY_DOCKERFILE) for source in sources}
    assert {"scripts/render-gateway", "nginx/gateway.conf.template", "nginx/njs/", "nginx/tls/"} <= sources
    image_repo = build_gateway_image_tree(tmp_path)
    assert image_repo == tmp_path / CONTAINER_REPO.lstrip("/")
    for relative in ("nginx/gateway.conf.template", "scripts/render-gateway", "nginx/njs/gateway.js",
                     "nginx/tls/server-tls.conf.template", "nginx/tls/http-tls.conf.template"):
        assert (image_repo / relative).read_bytes() == (REPO / relative).read_bytes(), relative


def test_gateway_image_brings_no_nginx_config_of_its_own():
    for sources, destination in dockerfile_copies(GATEWAY_DOCKERFILE):
        assert destination.startswith(CONTAINER_REPO + "/"), (sources, destination)


def test_gateway_container_renders_with_render_gateway_at_start():
    entrypoint = (REPO / "nginx" / "docker-entrypoint.sh").read_text(encoding="utf-8")
    assert f"sh {CONTAINER_REPO}/scripts/render-gateway /etc/nginx/nginx.conf" in entrypoint
    assert 'exec "$@"' in entrypoint
    instructions = dict(dockerfile_instructions(GATEWAY_DOCKERFILE))
    assert "docker-entrypoint.sh" in instructions["ENTRYPOINT"]
    image = next(rest for keyword, rest in dockerfile_instructions(GATEWAY_DOCKERFILE) if keyword == "FROM")
    major, minor, *_ = (int(part) for part in re.search(r"nginx:(\d+)\.(\d+)", image).groups())
    assert (major, minor) >= (1, 28), "the `resolve` upstream parameter needs nginx >= 1.27.3"


def test_native_stack_renders_with_the_same_script():
    stack = (REPO / "scripts" / "stack").read_text(encoding="utf-8")
    assert '"$REPO/scripts/render-gateway" "$conf"' in stack


# --- both renderings are the template, values filled in ------------------------

def test_native_rendering_is_the_template(tmp_path):
    output = tmp_path / "gateway.conf"
    result = render_gateway(RENDER, output, native_env(tmp_path / "stack"))
    assert result.returncode == 0, result.stderr
    match = template_pattern().fullmatch(output.read_text(encoding="utf-8"))
    assert match, "the native rendering is not nginx/gateway.conf.template with values filled in"
    assert match["GATEWAY_LISTEN"] == "127.0.0.1:28080"
    assert match["BACKEND_UPSTREAM"] == "127.0.0.1:28000"
    assert match["FRONTEND_UPSTREAM"] == "127.0.0.1:28081"
    assert match["UPSTREAM_SERVER_PARAMS"] == ""
    assert match["GATEWAY_NJS_DIR"] == str(REPO / "nginx" / "njs")


def test_compose_rendering_is_the_same_template(tmp_path):
    root, output, env = render_compose(tmp_path)
    match = template_pattern().fullmatch(output.read_text(encoding="utf-8"))
    assert match, "the compose rendering is not nginx/gateway.conf.template with values filled in"
    for name in ("GATEWAY_LISTEN", "BACKEND_UPSTREAM", "FRONTEND_UPSTREAM", "UPSTREAM_SERVER_PARAMS",
                 "GATEWAY_RESOLVER", "GATEWAY_STATE_DIR", "GATEWAY_INCLUDE_DIR", "GATEWAY_ACCESS_LOG",
                 "GATEWAY_ERROR_LOG", "GATEWAY_NJS_MODULE", "GATEWAY_WORKER_PROCESSES", "AUTH_RATE_LIMIT",
                 "AUTH_RATE_BURST", "API_MAX_BODY_SIZE"):
        assert match[name] == env[name], name
    assert match["GATEWAY_NJS_DIR"] == str(root / CONTAINER_REPO.lstrip("/") / "nginx" / "njs")
    assert (match["GATEWAY_LISTEN"], match["UPSTREAM_SERVER_PARAMS"], match["GATEWAY_RESOLVER"]) == \
        ("8080", "resolve", "127.0.0.11")
    assert (match["BACKEND_UPSTREAM"], match["FRONTEND_UPSTREAM"]) == ("backend:8000", "frontend:8080")


# --- nginx -t on both, with and without TLS -----------------------------------

def test_nginx_accepts_the_native_rendering(tmp_path):
    output = tmp_path / "gateway.conf"
    assert render_gateway(RENDER, output, native_env(tmp_path / "stack")).returncode == 0
    assert_nginx_test(output, tmp_path / "prefix")


def test_nginx_accepts_the_native_rendering_with_tls(tmp_path, self_signed):
    cert, key = self_signed
    output = tmp_path / "gateway.conf"
    env = native_env(tmp_path / "stack", TLS_CERT_FILE=str(cert), TLS_KEY_FILE=str(key),
                     PUBLIC_URL="https://localhost:28443")
    result = render_gateway(RENDER, output, env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "stack" / "nginx" / "gateway.d" / "server-tls.conf").is_file()
    assert_nginx_test(output, tmp_path / "prefix")


def test_nginx_accepts_the_compose_rendering(tmp_path):
    _, output, _ = render_compose(tmp_path)
    assert_nginx_test(debian_copy(output), tmp_path / "prefix")


def test_nginx_accepts_the_compose_rendering_with_tls(tmp_path, self_signed):
    cert, key = self_signed
    # Where compose mounts ./secrets/tls: the image's default certificate paths.
    tls_dir = tmp_path / "image" / CONTAINER_REPO.lstrip("/") / "secrets" / "tls"
    tls_dir.mkdir(parents=True)
    (tls_dir / "fullchain.pem").write_bytes(cert.read_bytes())
    (tls_dir / "privkey.pem").write_bytes(key.read_bytes())
    root, output, env = render_compose(tmp_path, PUBLIC_URL="https://auth.example.com")
    snippet = (Path(env["GATEWAY_INCLUDE_DIR"]) / "server-tls.conf").read_text(encoding="utf-8")
    assert "listen 8443 ssl;" in snippet
    assert f'ssl_certificate "{tls_dir / "fullchain.pem"}";' in snippet
    assert "return 308 https://auth.example.com$request_uri;" in snippet
    assert_nginx_test(debian_copy(output), tmp_path / "prefix")


# --- backend: one entrypoint ----------------------------------------------------

def test_backend_image_and_native_stack_share_entrypoint_sh():
    entrypoint = (REPO / "backend" / "entrypoint.sh").read_text(encoding="utf-8")
    steps = [line.strip() for line in entrypoint.splitlines() if line.strip().startswith(("flask", "exec"))]
    assert steps[:2] == ["flask wait-for-db", "flask db upgrade"]
    assert steps[2].startswith("exec gunicorn")

    instructions = dockerfile_instructions(BACKEND_DOCKERFILE)
    copied = {source for sources, _ in dockerfile_copies(BACKEND_DOCKERFILE) for source in sources}
    assert "entrypoint.sh" in copied
    entry = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"][-1]
    assert "/app/entrypoint.sh" in entry
    assert not [rest for keyword, rest in instructions if keyword == "CMD"], "CMD would be passed to entrypoint.sh"
    user = [rest for keyword, rest in instructions if keyword == "USER"][-1]
    assert user.split(":")[0] not in ("0", "root")

    backend = load_compose()["services"]["backend"]
    assert "entrypoint" not in backend and "command" not in backend
    assert "container_name" not in backend

    stack = (REPO / "scripts" / "stack").read_text(encoding="utf-8")
    assert 'launch backend "$REPO/backend/entrypoint.sh"' in stack


@pytest.mark.parametrize("script", ["scripts/render-gateway", "backend/entrypoint.sh",
                                    "nginx/docker-entrypoint.sh", "nginx/docker-healthcheck.sh"])
def test_start_scripts_are_posix_sh(script):
    result = subprocess.run(["sh", "-n", str(REPO / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (REPO / script).read_text(encoding="utf-8").startswith("#!/bin/sh\n")


def test_template_placeholders_are_exactly_render_gateways_list():
    script = RENDER.read_text(encoding="utf-8")
    listed = set(shlex.split(re.search(r"^VARS='([^']*)'", script, re.MULTILINE).group(1)))
    used = set(template_pattern(TEMPLATE).groupindex)
    assert used == listed
