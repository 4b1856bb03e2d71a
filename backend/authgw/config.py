"""Configuration: every setting read and validated in one place.

`load_settings` reads the environment once, checks every value and reports
every problem at once (``ConfigError.problems``), so an operator fixes a bad
deployment in one round instead of one error per restart. The variables are
those of CONTRACT.md ("Configuration") plus a few operational ones, all
documented in ``.env.example``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "test", "production")
GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
DEFAULT_PUBLIC_URL = "http://localhost:8080"
DEFAULT_DEV_IDP_URL = "http://127.0.0.1:9000"
#: Client credentials the bundled dev IdP accepts. Not secrets: the dev IdP
#: only runs outside production, and production refuses to start with it.
DEV_IDP_CLIENT_ID = "authgw-dev"
DEV_IDP_CLIENT_SECRET = "authgw-dev-client-secret"
SUPPORTED_ALGORITHMS = ("ES256", "RS256")
MIN_SECRET_KEY_LENGTH = 32
#: Values copied from examples and tutorials; production refuses them.
WEAK_SECRET_KEYS = frozenset(
    {"dev", "secret", "changeme", "change-me", "change_me", "development", "test", "please-change-me"}
)
#: Upper bound of the refresh grace window (CONTRACT.md: "at most 10 s").
MAX_REFRESH_GRACE_SECONDS = 10


class ConfigError(Exception):
    """The configuration is unusable.

    Attributes:
        problems (list[str]): one human sentence per wrong setting, each
            naming the variable to fix.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(self.problems))


@dataclass(frozen=True)
class Settings:
    """Validated settings of one backend process (immutable)."""

    app_env: str
    public_url: str
    database_url: str
    secret_key: str
    oidc_client_id: str
    oidc_client_secret: str
    oidc_discovery_url: str
    #: Origin the backend uses for server-to-server calls to the dev IdP when
    #: the browser-facing issuer is not reachable from the backend (compose).
    oidc_backchannel_url: str | None
    uses_dev_idp: bool
    jwt_private_key_file: Path
    jwt_algorithm: str
    jwt_issuer: str
    jwt_audience: str
    access_token_ttl: int
    refresh_token_ttl: int
    refresh_grace_seconds: int
    allowed_emails: frozenset[str] = field(default_factory=frozenset)
    allowed_email_domains: frozenset[str] = field(default_factory=frozenset)
    admin_emails: frozenset[str] = field(default_factory=frozenset)
    trusted_proxy_count: int = 1
    ratelimit_storage_uri: str = "memory://"
    ratelimit_enabled: bool = True
    ratelimit_login: str = "30 per minute"
    ratelimit_refresh: str = "120 per minute"
    ratelimit_admin_write: str = "60 per minute"
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def public_origin(self) -> str:
        """``scheme://host[:port]`` of PUBLIC_URL, as browsers send in ``Origin``."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` whenever PUBLIC_URL is https (CONTRACT.md)."""
        return self.public_url.startswith("https://")

    @property
    def redirect_uri(self) -> str:
        """The OAuth redirect URI registered with the provider."""
        return f"{self.public_url}/api/auth/callback"


def _split_list(value: str | None) -> frozenset[str]:
    return frozenset(item.strip().lower() for item in (value or "").split(",") if item.strip())


def _read_client_secret_file(path: Path, problems: list[str]) -> tuple[str | None, str | None]:
    """Return (client_id, client_secret) from Google's downloaded JSON, or (None, None)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        problems.append(f"GOOGLE_CLIENT_SECRET_FILE {path} is not readable JSON ({exc.__class__.__name__})")
        return None, None
    section = document.get("web") or document.get("installed") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        problems.append(f'GOOGLE_CLIENT_SECRET_FILE {path} has no "web" section (download the client of type "Web application")')
        return None, None
    return section.get("client_id"), section.get("client_secret")


def _with_password_from_file(database_url: str, path: Path, problems: list[str]) -> str:
    """Return ``database_url`` with its password replaced by the contents of
    ``path`` (DATABASE_PASSWORD_FILE; trailing line breaks dropped).

    The password never has to be spelled into the URL, so it may contain any
    character (it is escaped here) and lives in a file only its readers can
    open, e.g. the one compose's ``db-init`` generates on the first start.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        problems.append(f"DATABASE_PASSWORD_FILE {path} does not exist")
        return database_url
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"DATABASE_PASSWORD_FILE {path} is not readable ({exc.__class__.__name__})")
        return database_url
    if not password:
        problems.append(f"DATABASE_PASSWORD_FILE {path} is empty")
        return database_url
    try:
        url = make_url(database_url)
    except ArgumentError:
        problems.append("DATABASE_URL is not a SQLAlchemy URL (e.g. mysql+pymysql://app@db:3306/auth?charset=utf8mb4)")
        return database_url
    return url.set(password=password).render_as_string(hide_password=False)


def _int_setting(env: Mapping[str, str], name: str, default: int, problems: list[str], minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number of seconds, got {raw!r}")
        return default
    if not minimum <= value <= maximum:
        problems.append(f"{name} must be between {minimum} and {maximum}, got {value}")
        return default
    return value


def _rate_setting(env: Mapping[str, str], name: str, default: str, problems: list[str]) -> str:
    from limits import parse_many

    value = (env.get(name) or default).strip()
    try:
        parse_many(value)
    except ValueError:
        problems.append(f"{name} must be a rate like '30 per minute' or '5/second', got {value!r}")
        return default
    return value


def _origin_url(name: str, raw: str, problems: list[str]) -> str:
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"{name} must be an absolute http(s) URL, got {raw!r}")
    return value


def load_settings(environ: Mapping[str, str] | None = None, instance_path: str | os.PathLike | None = None) -> Settings:
    """Read and validate every setting.

    Args:
        environ: variables to read (default ``os.environ``).
        instance_path: Flask instance folder; development keeps its generated
            signing key and session secret there.

    Returns:
        Settings: the validated, immutable settings.

    Raises:
        ConfigError: listing every problem found, e.g. production without
            ``SECRET_KEY``, without a Google client, or without
            ``JWT_PRIVATE_KEY_FILE`` (CONTRACT.md, "Configuration").
    """
    env = os.environ if environ is None else environ
    instance = Path(instance_path or Path.cwd() / "instance")
    problems: list[str] = []

    app_env = (env.get("APP_ENV") or "development").strip().lower()
    if app_env not in ENVIRONMENTS:
        problems.append(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
        app_env = "production"  # judge the rest by the strictest rules
    production = app_env == "production"

    public_url = _origin_url("PUBLIC_URL", env.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL, problems)

    database_url = (env.get("DATABASE_URL") or "").strip()
    password_file = (env.get("DATABASE_PASSWORD_FILE") or "").strip()
    if not database_url:
        if production:
            problems.append("DATABASE_URL is required in production (e.g. mysql+pymysql://app:pw@db:3306/auth?charset=utf8mb4)")
        elif password_file:
            problems.append("DATABASE_PASSWORD_FILE is set but DATABASE_URL is not: the file only supplies DATABASE_URL's password")
        database_url = f"sqlite:///{instance / 'authgw.sqlite3'}"
    elif password_file:
        database_url = _with_password_from_file(database_url, Path(password_file), problems)

    secret_key = env.get("SECRET_KEY") or ""
    if production:
        if not secret_key:
            problems.append("SECRET_KEY is required in production (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')")
        elif len(secret_key) < MIN_SECRET_KEY_LENGTH or secret_key.strip().lower() in WEAK_SECRET_KEYS:
            problems.append(f"SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters")
    elif not secret_key:
        secret_key = _instance_secret(instance)

    client_id = (env.get("GOOGLE_CLIENT_ID") or "").strip() or None
    client_secret = (env.get("GOOGLE_CLIENT_SECRET") or "").strip() or None
    secret_file = Path(env.get("GOOGLE_CLIENT_SECRET_FILE") or "secrets/client-secret.json")
    if not client_id or not client_secret:
        file_id, file_secret = _read_client_secret_file(secret_file, problems)
        client_id = client_id or file_id
        client_secret = client_secret or file_secret
    uses_dev_idp = not client_id
    backchannel = None
    if uses_dev_idp:
        if production:
            problems.append(
                "GOOGLE_CLIENT_ID is not set: production refuses to use the dev IdP "
                "(set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET, or GOOGLE_CLIENT_SECRET_FILE)"
            )
        dev_idp = _origin_url("DEV_IDP_URL", env.get("DEV_IDP_URL") or DEFAULT_DEV_IDP_URL, problems)
        discovery_url = f"{dev_idp}/.well-known/openid-configuration"
        client_id, client_secret = DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET
        if env.get("DEV_IDP_INTERNAL_URL"):
            backchannel = _origin_url("DEV_IDP_INTERNAL_URL", env["DEV_IDP_INTERNAL_URL"], problems)
    else:
        if not client_secret:
            problems.append("GOOGLE_CLIENT_SECRET is not set (nor found in GOOGLE_CLIENT_SECRET_FILE)")
        discovery_url = _origin_url(
            "GOOGLE_DISCOVERY_URL", env.get("GOOGLE_DISCOVERY_URL") or GOOGLE_DISCOVERY_URL, problems
        )

    key_file_raw = (env.get("JWT_PRIVATE_KEY_FILE") or "").strip()
    if key_file_raw:
        key_file = Path(key_file_raw)
        if not key_file.is_file():
            problems.append(f"JWT_PRIVATE_KEY_FILE {key_file} does not exist or is not a file")
    else:
        if production:
            problems.append(
                "JWT_PRIVATE_KEY_FILE is required in production "
                "(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out secrets/jwt-signing-key.pem)"
            )
        key_file = instance / "jwt-signing-key.pem"

    algorithm = (env.get("JWT_ALGORITHM") or "ES256").strip().upper()
    if algorithm not in SUPPORTED_ALGORITHMS:
        problems.append(f"JWT_ALGORITHM must be one of {', '.join(SUPPORTED_ALGORITHMS)}, got {algorithm!r}")

    access_ttl = _int_setting(env, "ACCESS_TOKEN_TTL", 900, problems, 1, 86400)
    refresh_ttl = _int_setting(env, "REFRESH_TOKEN_TTL", 2592000, problems, 60, 31536000)
    grace = _int_setting(env, "REFRESH_GRACE_SECONDS", MAX_REFRESH_GRACE_SECONDS, problems, 0, MAX_REFRESH_GRACE_SECONDS)
    proxies = _int_setting(env, "TRUSTED_PROXY_COUNT", 1, problems, 0, 5)

    log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

    ratelimit_enabled = (env.get("RATELIMIT_ENABLED") or "true").strip().lower() not in ("0", "false", "no", "off")
    limits = {
        name: _rate_setting(env, name, default, problems)
        for name, default in (("RATELIMIT_LOGIN", "30 per minute"), ("RATELIMIT_REFRESH", "120 per minute"),
                              ("RATELIMIT_ADMIN_WRITE", "60 per minute"))
    }
    storage = (env.get("RATELIMIT_STORAGE_URI") or "memory://").strip()
    if not storage.startswith(("memory://", "redis://", "rediss://", "memcached://")):
        problems.append(f"RATELIMIT_STORAGE_URI must be memory://, redis://host:port/db or memcached://host:port, got {storage!r}")

    if problems:
        raise ConfigError(problems)

    return Settings(
        app_env=app_env,
        public_url=public_url,
        database_url=database_url,
        secret_key=secret_key,
        oidc_client_id=client_id,
        oidc_client_secret=client_secret,
        oidc_discovery_url=discovery_url,
        oidc_backchannel_url=backchannel,
        uses_dev_idp=uses_dev_idp,
        jwt_private_key_file=key_file,
        jwt_algorithm=algorithm,
        jwt_issuer=(env.get("JWT_ISSUER") or public_url).strip(),
        jwt_audience=(env.get("JWT_AUDIENCE") or "api").strip(),
        access_token_ttl=access_ttl,
        refresh_token_ttl=refresh_ttl,
        refresh_grace_seconds=grace,
        allowed_emails=_split_list(env.get("ALLOWED_EMAILS")),
        allowed_email_domains=frozenset(d.lstrip("@") for d in _split_list(env.get("ALLOWED_EMAIL_DOMAINS"))),
        admin_emails=_split_list(env.get("ADMIN_EMAILS")),
        trusted_proxy_count=proxies,
        ratelimit_storage_uri=storage,
        ratelimit_enabled=ratelimit_enabled,
        ratelimit_login=limits["RATELIMIT_LOGIN"],
        ratelimit_refresh=limits["RATELIMIT_REFRESH"],
        ratelimit_admin_write=limits["RATELIMIT_ADMIN_WRITE"],
        log_level=log_level,
    )


def _instance_secret(instance: Path) -> str:
    """Return the development session secret, generating it once.

    Development only: every gunicorn worker must sign the login-state cookie
    with the same key, so a random key is written once (mode 0600) into the
    instance folder instead of a fixed fallback value in the code.
    """
    path = instance / "secret-key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
