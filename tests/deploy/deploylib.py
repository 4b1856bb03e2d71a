"""Helpers of the deployment tests (run by scripts/check-deploy).

No Docker engine is needed: the compose file and the Dockerfiles are read as
data, the gateway image's file layout is rebuilt in a temporary folder from
the COPY lines of nginx/Dockerfile, and nginx -t runs on Debian's nginx.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from ruamel.yaml import YAML  # comes with check-jsonschema (backend/requirements-dev.txt)

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "nginx" / "gateway.conf.template"
RENDER = REPO / "scripts" / "render-gateway"
#: The repository's place in the gateway image (nginx/Dockerfile).
CONTAINER_REPO = "/opt/authgw"


def load_compose() -> dict:
    """Return docker-compose.yml as plain data."""
    return YAML(typ="safe").load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Expand compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``,
    ``${NAME:?message}`` and ``$$`` the way Compose v2 does, from ``env``
    (empty: every default applies). Defaults may nest
    (``${JWT_ISSUER:-${PUBLIC_URL:-http://localhost:8080}}``).

    Raises:
        ValueError: a ``${NAME:?message}`` whose variable is unset or empty,
            or an unterminated ``${``.
    """
    env = env or {}
    text, out, i = str(value), [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            expanded, i = _expand_braced(text, i + 2, env)
            out.append(expanded)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _expand_braced(text: str, i: int, env: dict[str, str]) -> tuple[str, int]:
    """Expand the ``${...}`` whose name starts at ``text[i]``; return the
    value and the index after its closing brace."""
    match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, i)
    if not match:
        raise ValueError(f"bad interpolation at {text[i - 2:]!r}")
    name, i = match.group(0), match.end()
    op = next((candidate for candidate in (":-", ":?", "-", "?") if text.startswith(candidate, i)), "")
    i += len(op)
    depth, start = 0, i
    while True:
        if i >= len(text):
            raise ValueError(f"unterminated interpolation in {text!r}")
        if text.startswith("${", i):
            depth += 1
            i += 2
        elif text[i] == "}":
            if depth == 0:
                break
            depth -= 1
            i += 1
        else:
            i += 1
    raw_arg = text[start:i]
    current = env.get(name)
    if op == ":-":
        result = current if current else interpolate(raw_arg, env)
    elif op == "-":
        result = interpolate(raw_arg, env) if current is None else current
    elif op in (":?", "?"):
        if not current if op == ":?" else current is None:
            raise ValueError(f"{name}: {interpolate(raw_arg, env)}")
        result = current
    else:
        result = current or ""
    return result, i + 1


def service_environment(service: dict, env: dict[str, str] | None = None) -> dict[str, str]:
    """Return a compose service's ``environment`` (map or list form), interpolated."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate("" if value is None else value, env) for key, value in raw.items()}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    lines, current = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, rest = current.partition(" ")
        lines.append((keyword.upper(), rest.strip()))
        current = ""
    return lines


def dockerfile_env(path: Path) -> dict[str, str]:
    """Return the ``ENV`` values a Dockerfile sets (``KEY=value`` form)."""
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def dockerfile_copies(path: Path) -> list[tuple[list[str], str]]:
    """Return the (sources, destination) of a Dockerfile's plain ``COPY`` lines."""
    copies = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "COPY":
            args = [arg for arg in shlex.split(rest) if not arg.startswith("--")]
            copies.append((args[:-1], args[-1]))
    return copies


def build_gateway_image_tree(root: Path) -> Path:
    """Lay out, under ``root``, the files nginx/Dockerfile copies into the
    image (COPY semantics: a folder's contents go into the destination
    folder). Returns the image's repository folder (``root/opt/authgw``)."""
    for sources, destination in dockerfile_copies(REPO / "nginx" / "Dockerfile"):
        target = root / destination.lstrip("/")
        for source in sources:
            origin = REPO / source
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                dest = target / origin.name if destination.endswith("/") else target
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, dest)
    return root / CONTAINER_REPO.lstrip("/")


def render_gateway(script: Path, output: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a render-gateway script (by its own interpreter line, as the
    gateway image's entrypoint does) with exactly ``env`` (plus PATH, and the
    check cache beside ``output`` so that ``nginx -t`` leaves nothing in
    /dev/shm)."""
    full_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "GATEWAY_AUTH_CACHE_DIR": str(output.parent / "auth_cache")} | env
    return subprocess.run([str(script), str(output)], env=full_env, capture_output=True, text=True, timeout=30)


def template_pattern(template: Path = TEMPLATE) -> re.Pattern:
    """Return a regex matching every rendering of ``template``: its text
    verbatim, each ``${NAME}`` outside comments a capture group (one value
    for every occurrence of a name)."""
    text = template.read_text(encoding="utf-8")
    parts, seen, position = [], set(), 0
    for match in re.finditer(r"\$\{([A-Z][A-Z0-9_]*)\}", text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if text[line_start:match.start()].lstrip().startswith("#"):
            continue  # prose about placeholders, left as it is
        parts.append(re.escape(text[position:match.start()]))
        parts.append(_placeholder(match.group(1), seen))
        position = match.end()
    parts.append(re.escape(text[position:]))
    return re.compile("".join(parts), re.DOTALL)


def _placeholder(name: str, seen: set[str]) -> str:
    if name in seen:
        return f"(?P={name})"
    seen.add(name)
    return f"(?P<{name}>[^\\n]*?)"


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` of a complete nginx.conf (Debian's nginx)."""
    prefix.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["nginx", "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        capture_output=True, text=True, timeout=30,
    )


def for_debian_nginx(text: str, upstream_hosts: dict[str, str]) -> str:
    """Adapt a compose rendering to Debian's nginx 1.22 for ``nginx -t``:
    drop the ``resolve`` parameter of upstream servers (nginx >= 1.27.3) and
    point Docker's service names, which resolve only on the compose network,
    at 127.0.0.1. Nothing else changes."""
    out = re.sub(r"^(\s*server \S+) resolve;$", r"\1;", text, flags=re.MULTILINE)
    for host, replacement in upstream_hosts.items():
        out = re.sub(rf"^(\s*server ){re.escape(host)}([ ;])", rf"\g<1>{replacement}\2", out, flags=re.MULTILINE)
    return out


# --- Docker Compose v2 and kustomize, as the operator runs them ----------------

VENV_BIN = REPO / ".venv" / "bin"
KUSTOMIZE_DIR = REPO / "deploy" / "kubernetes"
OVERLAYS = ("dev", "production")
#: What a compose project needs besides docker-compose.yml (build contexts,
#: mounted folders), linked into a scratch copy.
COMPOSE_PATHS = ("backend", "frontend", "dev-idp", "nginx", "scripts", "secrets", "deploy", "services", "kit",
                 "gateway")


def compose_config(scratch: Path, *args: str, env_file: str | None = None) -> dict:
    """Return ``docker compose [ARGS] config --format json`` of the
    repository's compose file: the model Compose itself resolves (env_file
    merged in, every ``${...}`` interpolated). ``.env`` is .env.example as
    it is, or ``env_file`` text. Runs in ``scratch`` (a new folder)."""
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "docker-compose.yml", scratch / "docker-compose.yml")
    for name in COMPOSE_PATHS:
        if (REPO / name).exists():
            (scratch / name).symlink_to(REPO / name)
    (scratch / ".env").write_text(env_file if env_file is not None else
                                  (REPO / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch)}
    result = subprocess.run([str(VENV_BIN / "docker-compose"), *args, "config", "--format", "json"], cwd=scratch,
                            env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"docker compose config failed: {result.stderr}")
    import json

    return json.loads(result.stdout)


def kustomize(overlay: str, output_dir: Path) -> list[dict]:
    """Render ``deploy/kubernetes/overlays/<overlay>`` with ``kubectl
    kustomize`` (reusing scripts/check-deploy's rendering when it gave
    DEPLOY_RENDERED_DIR) and return its objects."""
    import os

    rendered = os.environ.get("DEPLOY_RENDERED_DIR")
    path = Path(rendered) / f"{overlay}.yaml" if rendered else output_dir / f"{overlay}.yaml"
    if not rendered or not path.exists():
        result = subprocess.run([str(VENV_BIN / "kubectl"), "kustomize", str(KUSTOMIZE_DIR / "overlays" / overlay)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"kubectl kustomize overlays/{overlay} failed: {result.stderr}")
        path = output_dir / f"{overlay}.yaml"
        path.write_text(result.stdout, encoding="utf-8")
    return [doc for doc in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")) if doc]
