""".env.example documents every variable the code reads, and every variable
it documents is read by some code (docker-compose.yml counts as code).

"Read" is found by grepping the code for the ways each language reads its
environment: Python ``env.get("X")`` / ``os.environ[...]`` / ``getenv``, the
``(env, "X")`` helpers and the ``validation_alias="X"`` fields of the
pydantic-settings schema in backend/authgw/config.py; shell parameter
expansions with a default (``${X:-...}``, ``${X-...}``, ``${X:=...}``,
``${X:?...}``), which is how these scripts take settings from the
environment; ``${X}`` placeholders of the nginx templates (filled in from the
environment by scripts/render-gateway); ``process.env.X`` in the dev IdP;
``${X...}`` interpolations of docker-compose.yml; and the ``${X}`` of
upstream addresses in gateway/routes.toml. A second test runs
``load_settings`` with an environment that records every name asked for, so
a read the grep misses cannot hide.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from deploylib import REPO

NAME = r"([A-Z][A-Z0-9_]*)"
PYTHON_READS = [re.compile(pattern, re.MULTILINE) for pattern in (
    r"\b(?:environ|env)\.get\(\s*[\"']" + NAME + r"[\"']",
    r"\b(?:environ|env)\[\s*[\"']" + NAME + r"[\"']\s*\]",
    r"getenv\(\s*[\"']" + NAME + r"[\"']",
    r"\(\s*env\s*,\s*[\"']" + NAME + r"[\"']",
    r"\bvalidation_alias\s*=\s*[\"']" + NAME + r"[\"']",
    # a constant naming a variable that the code then reads through it
    r"^[A-Z0-9_]*_VARIABLE\s*=\s*[\"']" + NAME + r"[\"']",
)]
#: ``for name, default in (("RATELIMIT_LOGIN", "30 per minute"), ...)`` in config.py
PYTHON_NAME_TABLE = re.compile(r"for\s+\w+\s*,\s*\w+\s+in\s+\(((?:\s*\(\s*\"[A-Z0-9_]+\"\s*,\s*\"[^\"]*\"\s*\)\s*,?)+)\s*\)")
SHELL_READ = re.compile(r"\$\{" + NAME + r"(?::?[-=?+])")
TEMPLATE_PLACEHOLDER = re.compile(r"\$\{" + NAME + r"\}")
JS_READ = re.compile(r"process\.env(?:\.|\[\s*[\"'])" + NAME)
COMPOSE_INTERPOLATION = re.compile(r"(?<!\$)\$\{" + NAME)
#: Read by Docker Compose itself, not by a file of ours: the profiles to
#: start (COMPOSE_PROFILES=dev starts the dev IdP).
READ_BY_COMPOSE_ITSELF = {"COMPOSE_PROFILES"}
#: The process environment every program has, passed on by the scripts (a
#: supervisor started with `env -i` still needs them); not authgw settings.
SYSTEM_VARIABLES = {"HOME", "LANG", "LC_ALL", "PATH", "TMPDIR", "USER", "TERM"}

PYTHON_FILES = ["backend/authgw/**/*.py", "backend/*.py", "backend/migrations/*.py", "scripts/render-gateway",
                # the kit's metrics module: the stack sets its folder variable
                "kit/src/authgw_kit/metrics.py"]
SHELL_FILES = ["backend/entrypoint.sh", "scripts/stack",
               "nginx/docker-entrypoint.sh", "nginx/docker-healthcheck.sh"]
TEMPLATE_FILES = ["nginx/gateway.conf.template", "nginx/tls/*.template"]
JS_FILES = ["dev-idp/server.js"]
COMPOSE_FILES = ["docker-compose.yml"]
#: ``${X}`` / ``${X:-default}`` in upstream addresses of the routes
#: declaration, expanded from the environment by scripts/render-gateway.
ROUTES_FILES = ["gateway/routes.toml"]
ROUTES_EXPANSION = re.compile(r"\$\{" + NAME + r"(?::-[^}]*)?\}")


def _files(patterns: list[str]) -> list[Path]:
    files = [path for pattern in patterns for path in sorted(REPO.glob(pattern))]
    assert files, patterns
    return files


def _without_comment_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def variables_read_by_code() -> dict[str, set[str]]:
    """Return {variable: files that read it}."""
    found: dict[str, set[str]] = {}

    def add(names, path: Path) -> None:
        for name in names:
            found.setdefault(name, set()).add(str(path.relative_to(REPO)))

    for path in _files(PYTHON_FILES):
        text = path.read_text(encoding="utf-8")
        for pattern in PYTHON_READS:
            add(pattern.findall(text), path)
        for table in PYTHON_NAME_TABLE.findall(text):
            add(re.findall(r"\(\s*\"([A-Z0-9_]+)\"", table), path)
    for path in _files(SHELL_FILES):
        add(SHELL_READ.findall(_without_comment_lines(path.read_text(encoding="utf-8"))), path)
    for path in _files(TEMPLATE_FILES):
        add(TEMPLATE_PLACEHOLDER.findall(_without_comment_lines(path.read_text(encoding="utf-8"))), path)
    for path in _files(JS_FILES):
        add(JS_READ.findall(path.read_text(encoding="utf-8")), path)
    for path in _files(COMPOSE_FILES):
        add(COMPOSE_INTERPOLATION.findall(_without_comment_lines(path.read_text(encoding="utf-8"))), path)
    for path in _files(ROUTES_FILES):
        add(ROUTES_EXPANSION.findall(_without_comment_lines(path.read_text(encoding="utf-8"))), path)
    return found


def variables_documented() -> dict[str, str]:
    """Return {variable: line} of .env.example, set (``X=...``) or shown
    commented out (``# X=...``)."""
    documented = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]*)=", line)
        if match:
            assert match.group(1) not in documented, f"{match.group(1)} appears twice in .env.example"
            documented[match.group(1)] = line
    return documented


def test_every_variable_the_code_reads_is_in_env_example():
    missing = {name: sorted(files) for name, files in variables_read_by_code().items()
               if name not in variables_documented() and name not in SYSTEM_VARIABLES}
    assert not missing, f"read by the code but not in .env.example: {missing}"


def test_every_variable_of_env_example_is_read_by_the_code():
    read = set(variables_read_by_code()) | READ_BY_COMPOSE_ITSELF
    unread = sorted(set(variables_documented()) - read)
    assert not unread, f"in .env.example but read by no code: {unread}"


def test_the_grep_finds_every_setting_load_settings_asks_for(tmp_path):
    """Cross-check of the Python grep: run load_settings in each mode (dev
    IdP, Google, production) and record every name it looks up."""
    sys.path.insert(0, str(REPO / "backend"))
    try:
        from authgw.config import ConfigError, load_settings
    finally:
        sys.path.remove(str(REPO / "backend"))

    class RecordingEnv(dict):
        asked: set[str] = set()

        def get(self, key, default=None):
            RecordingEnv.asked.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            RecordingEnv.asked.add(key)
            return super().__getitem__(key)

        def __contains__(self, key):
            RecordingEnv.asked.add(key)
            return super().__contains__(key)

    key_file = tmp_path / "key.pem"
    key_file.write_text("not read by load_settings", encoding="utf-8")
    scenarios = [
        {"DEV_IDP_INTERNAL_URL": "http://dev-idp:9000"},
        {"GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "secret"},
        {"GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json")},
        {"APP_ENV": "production", "SECRET_KEY": "x" * 40, "GOOGLE_CLIENT_ID": "id",
         "GOOGLE_CLIENT_SECRET": "secret", "JWT_PRIVATE_KEY_FILE": str(key_file),
         "DATABASE_URL": "mysql+pymysql://app:pw@db:3306/auth",
         "DATABASE_PASSWORD_FILE": str(key_file)},
    ]
    for scenario in scenarios:
        try:
            load_settings(RecordingEnv(scenario), instance_path=tmp_path / "instance")
        except ConfigError:
            pass
    assert RecordingEnv.asked, "load_settings read nothing through its environment argument"
    assert RecordingEnv.asked <= set(variables_read_by_code())


def test_env_example_sets_no_secret():
    """Example values are safe: secrets are left empty or commented out."""
    for name, line in variables_documented().items():
        if line.startswith("#"):
            continue
        value = line.split("=", 1)[1].strip()
        if any(word in name for word in ("SECRET", "PASSWORD", "KEY")) and not name.endswith("_FILE"):
            assert value == "", f".env.example must not set {name}"
