"""One gateway renderer and one backend entrypoint serve compose and the
native stack (docs/deployment.md "Parity with the native stack").

The gateway image is rebuilt as a folder from the COPY lines of
nginx/Dockerfile and rendered with its own copy of scripts/render-gateway,
gateway/routes.toml and the nginx template, with the environment of
nginx/Dockerfile + docker-compose.yml; the native stack renders with the
repository's script and scripts/stack's environment. The image installs the
same Debian 12 packages as the native stack (nginx 1.22 with the Lua module),
so both renderings must pass this machine's ``nginx -t``, with and without
TLS; only Docker's service names, which resolve on the compose network
alone, are pointed at 127.0.0.1 for it (``for_debian_nginx``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deploylib import (
    CONTAINER_REPO, RENDER, REPO, build_gateway_image_tree, dockerfile_copies, dockerfile_env,
    dockerfile_instructions, for_debian_nginx, load_compose, nginx_test, render_gateway, service_environment,
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
    leaving /dev/* alone."""
    moved = {}
    for key, value in env.items():
        if key in ("GATEWAY_CONF", "GATEWAY_STATE_DIR", "GATEWAY_INCLUDE_DIR") or (
            key.endswith("_LOG") and not value.startswith("/dev/")
        ):
            value = str(root / value.lstrip("/"))
        moved[key] = value
    return moved


def native_env(stack_dir: Path, **extra: str) -> dict[str, str]:
    """What scripts/stack hands render-gateway (its ports; TLS off unless given)."""
    env = {"STACK_DIR": str(stack_dir), "GATEWAY_PORT": "28080", "BACKEND_PORT": "28000",
           "FRONTEND_PORT": "28081", "NOTES_PORT": "28200", "TLS_CERT_FILE": "",
           "PUBLIC_URL": "http://localhost:28080"}
    return env | extra


def render_compose(tmp_path: Path, **extra: str) -> tuple[Path, Path, dict[str, str]]:
    """Render like the gateway container's entrypoint does. Returns (image
    root, rendered nginx.conf, environment used)."""
    root = tmp_path / "image"
    image_repo = build_gateway_image_tree(root)
    env = in_root(root, compose_gateway_env()) | extra
    output = Path(env["GATEWAY_CONF"])
    output.parent.mkdir(parents=True, exist_ok=True)
    for folder in ("GATEWAY_STATE_DIR", "GATEWAY_INCLUDE_DIR"):  # the image's tmpfs folders
        Path(env[folder]).mkdir(parents=True, exist_ok=True)
    result = render_gateway(image_repo / "scripts" / "render-gateway", output, env)
    assert result.returncode == 0, result.stderr
    return root, output, env


def assert_nginx_test(conf: Path, prefix: Path) -> None:
    result = nginx_test(conf, prefix)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def compose_hosts() -> dict[str, str]:
    """Docker's service names of the gateway's upstreams -> 127.0.0.1."""
    env = compose_gateway_env()
    addresses = [env["BACKEND_UPSTREAMS"], env["FRONTEND_UPSTREAM"], f"{env['NOTES_HOST']}:{env['NOTES_PORT']}"]
    return {address: "127.0.0.1:" + address.rsplit(":", 1)[1] for address in addresses}


def debian_copy(conf: Path) -> Path:
    """The compose rendering with Docker's service names pointed at 127.0.0.1."""
    adapted = conf.with_name("nginx-local.conf")
    adapted.write_text(for_debian_nginx(conf.read_text(encoding="utf-8"), compose_hosts()), encoding="utf-8")
    return adapted


def apt_packages(dockerfile: Path) -> set[str]:
    """The packages of a Dockerfile's ``apt-get install`` lines."""
    packages: set[str] = set()
    for keyword, rest in dockerfile_instructions(dockerfile):
        if keyword == "RUN":
            for command in re.split(r"&&|;", rest):
                words = shlex.split(command)
                if words[:2] == ["apt-get", "install"]:
                    packages |= {word for word in words[2:] if not word.startswith("-")}
    return packages


def native_apt_packages() -> set[str]:
    """scripts/install's APT_PACKAGES."""
    text = (REPO / "scripts" / "install").read_text(encoding="utf-8")
    return set(shlex.split(re.search(r"^APT_PACKAGES=\(([^)]*)\)", text, re.MULTILINE).group(1)))


# --- the gateway image carries the repository's renderer, routes, template, Lua --

#: The native stack's gateway packages, which the image installs too.
GATEWAY_PACKAGES = {"nginx", "libnginx-mod-http-lua", "lua-resty-core", "lua-resty-lrucache", "lua-cjson",
                    "lua-luaossl"}


def test_gateway_image_copies_the_renderer_routes_template_and_lua(tmp_path):
    sources = {source for sources, _ in dockerfile_copies(GATEWAY_DOCKERFILE) for source in sources}
    assert {"scripts/render-gateway", "gateway/", "nginx/"} <= sources
    image_repo = build_gateway_image_tree(tmp_path)
    assert image_repo == tmp_path / CONTAINER_REPO.lstrip("/")
    relatives = ["scripts/render-gateway", "gateway/routes.toml", "nginx/gateway.conf.template",
                 "nginx/tls/server-tls.conf.template", "nginx/tls/http-tls.conf.template"]
    relatives += [str(path.relative_to(REPO)) for path in sorted((REPO / "nginx" / "lua" / "authgw").glob("*.lua"))]
    assert len(relatives) > 5, "no Lua modules under nginx/lua/authgw"
    for relative in relatives:
        assert (image_repo / relative).read_bytes() == (REPO / relative).read_bytes(), relative
    assert os.access(image_repo / "scripts" / "render-gateway", os.X_OK), "COPY keeps the executable bit"


def test_gateway_image_brings_no_nginx_config_of_its_own():
    for sources, destination in dockerfile_copies(GATEWAY_DOCKERFILE):
        assert destination.startswith(CONTAINER_REPO + "/"), (sources, destination)


def test_gateway_image_is_the_native_stacks_debian_nginx():
    image = next(rest for keyword, rest in dockerfile_instructions(GATEWAY_DOCKERFILE) if keyword == "FROM")
    debian = Path("/etc/os-release").read_text(encoding="utf-8")
    codename = re.search(r"^VERSION_CODENAME=(\w+)", debian, re.MULTILINE).group(1)
    assert image.split()[0] == f"debian:{codename}-slim", "the native stack's Debian release"
    installed = apt_packages(GATEWAY_DOCKERFILE)
    assert GATEWAY_PACKAGES <= native_apt_packages(), "scripts/install no longer installs the gateway's packages"
    assert GATEWAY_PACKAGES <= installed
    assert "python3" in installed, "render-gateway runs at start"
    # Everything else of the native stack's Lua packages, too.
    assert {package for package in native_apt_packages() if package.startswith("lua-")} <= installed


def test_gateway_container_renders_with_render_gateway_at_start():
    entrypoint = (REPO / "nginx" / "docker-entrypoint.sh").read_text(encoding="utf-8")
    assert '"$repo/scripts/render-gateway" "$conf"' in entrypoint
    assert 'conf=${GATEWAY_CONF:-/run/gateway/nginx.conf}' in entrypoint
    assert 'exec nginx -e stderr -c "$conf" "$@"' in entrypoint
    assert 'exec "$@"' in entrypoint
    instructions = dockerfile_instructions(GATEWAY_DOCKERFILE)
    assert "docker-entrypoint.sh" in dict(instructions)["ENTRYPOINT"]
    user = [rest for keyword, rest in instructions if keyword == "USER"][-1]
    assert user.split(":")[0] not in ("0", "root"), "nginx runs unprivileged (ports 8080 and 8443)"
    assert dockerfile_env(GATEWAY_DOCKERFILE)["GATEWAY_CONF"] == "/run/gateway/nginx.conf"


def run_entrypoint(tmp_path: Path, command: list[str], **extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the image's docker-entrypoint.sh in the rebuilt image tree with
    the compose environment (writable paths under the tree)."""
    root = tmp_path / "image"
    image_repo = build_gateway_image_tree(root)
    env = in_root(root, compose_gateway_env()) | extra
    for folder in ("GATEWAY_STATE_DIR", "GATEWAY_INCLUDE_DIR"):
        Path(env[folder]).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["sh", str(image_repo / "nginx" / "docker-entrypoint.sh"), *command],
                            env={"PATH": "/usr/local/bin:/usr/bin:/bin"} | env,
                            capture_output=True, text=True, timeout=60)
    return result, Path(env["GATEWAY_CONF"])


def test_gateway_entrypoint_renders_then_runs_the_command(tmp_path):
    result, conf = run_entrypoint(tmp_path, ["sh", "-c", 'printf %s "$GATEWAY_RESOLVER"'])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "127.0.0.11", "compose's resolver is passed on as it is"
    assert "resolver 127.0.0.11 " in conf.read_text(encoding="utf-8")


def test_gateway_entrypoint_takes_the_pods_nameserver_for_auto(tmp_path):
    """Kubernetes: GATEWAY_RESOLVER=auto becomes the nameserver of /etc/resolv.conf."""
    nameserver = next(line.split()[1] for line in Path("/etc/resolv.conf").read_text().splitlines()
                      if line.startswith("nameserver"))
    expected = f"[{nameserver}]" if ":" in nameserver else nameserver
    result, conf = run_entrypoint(tmp_path, ["sh", "-c", 'printf %s "$GATEWAY_RESOLVER"'], GATEWAY_RESOLVER="auto")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert f"resolver {expected} " in conf.read_text(encoding="utf-8")


def test_gateway_entrypoint_stops_on_a_bad_setting(tmp_path):
    result, conf = run_entrypoint(tmp_path, ["true"], AUTH_RATE_LIMIT="lots")
    assert result.returncode != 0
    assert "AUTH_RATE_LIMIT" in result.stderr
    assert not conf.exists()


def native_stack_text() -> str:
    """scripts/stack and its supervisor configuration (scripts/stack.d)."""
    paths = [REPO / "scripts" / "stack", *sorted(path for path in (REPO / "scripts" / "stack.d").rglob("*")
                                                 if path.is_file())]
    return "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in paths if path.exists())


def test_native_stack_renders_with_the_same_script():
    assert "scripts/render-gateway" in native_stack_text()


# --- both renderings: the same routes, the topology's upstreams ------------------

def test_native_rendering_routes_the_declared_services_locally(tmp_path):
    output = tmp_path / "gateway.conf"
    result = render_gateway(RENDER, output, native_env(tmp_path / "stack"))
    assert result.returncode == 0, result.stderr
    text = output.read_text(encoding="utf-8")
    assert "server 127.0.0.1:28000" in text and "server 127.0.0.1:28200" in text
    assert "location ^~ /api/notes/" in text


def test_compose_rendering_routes_the_declared_services_to_compose_services(tmp_path):
    root, output, env = render_compose(tmp_path)
    text = output.read_text(encoding="utf-8")
    for upstream in ("backend:8000", "frontend:8080", "notes:8200"):
        assert re.search(rf"^\s*server {re.escape(upstream)}[ ;]", text, re.MULTILINE), upstream
    assert "location ^~ /api/notes/" in text
    assert "resolver 127.0.0.11 " in text
    assert re.search(r"^\s*listen 8080[ ;]", text, re.MULTILINE)
    # The token check polls the backend service and expects the backend's issuer.
    assert "http://backend:8000/api/internal/revocations" in text
    assert '"http://localhost:8080"' in text
    assert str(root / CONTAINER_REPO.lstrip("/") / "nginx" / "lua") in text


def test_native_and_compose_renderings_differ_only_in_the_environment(tmp_path):
    """The image's copy of the renderer, routes and template gives what the
    checkout's gives for the same environment (paths of the image tree
    mapped back to the checkout)."""
    root, output, env = render_compose(tmp_path)
    image_repo = str(root / CONTAINER_REPO.lstrip("/"))
    native_output = tmp_path / "native" / "nginx.conf"
    native_output.parent.mkdir()
    result = render_gateway(RENDER, native_output, env)
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8").replace(image_repo, str(REPO)) == \
        native_output.read_text(encoding="utf-8")


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
    assert "backend/entrypoint.sh" in copied
    entry = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"][-1]
    assert "/app/entrypoint.sh" in entry
    assert not [rest for keyword, rest in instructions if keyword == "CMD"], "CMD would be passed to entrypoint.sh"
    user = [rest for keyword, rest in instructions if keyword == "USER"][-1]
    assert user.split(":")[0] not in ("0", "root")

    backend = load_compose()["services"]["backend"]
    assert "entrypoint" not in backend and "command" not in backend
    assert "container_name" not in backend

    assert "backend/entrypoint.sh" in native_stack_text(), "the native stack no longer starts backend/entrypoint.sh"


@pytest.mark.parametrize("script", ["backend/entrypoint.sh",
                                    "nginx/docker-entrypoint.sh", "nginx/docker-healthcheck.sh"])
def test_start_scripts_are_posix_sh(script):
    result = subprocess.run(["sh", "-n", str(REPO / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (REPO / script).read_text(encoding="utf-8").startswith("#!/bin/sh\n")


def test_render_gateway_needs_only_the_python_standard_library():
    """The gateway image has Debian's python3 and nothing from PyPI."""
    script = RENDER.read_text(encoding="utf-8")
    assert script.startswith("#!/usr/bin/env python3\n")
    imported = set(re.findall(r"^(?:from|import) ([A-Za-z_][A-Za-z0-9_]*)", script, re.MULTILINE))
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)
