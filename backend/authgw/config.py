"""Configuration: every setting declared, read and validated in one place.

Two layers:

- `Environment` is the declarative schema of the environment (pydantic-settings):
  one field per variable, with its type, default, unit and bounds. Reading it
  checks each value on its own.
- `load_settings` adds the rules that span several variables (production
  refuses the dev IdP, a weak ``SECRET_KEY``, no signing key, an ``http://``
  public origin), reads the secret files (``*_FILE``), probes what
  ``create_app`` would build (database driver, rate-limit storage) and returns
  the immutable `Settings` the rest of the backend uses.

Every problem of both layers is reported at once (``ConfigError.problems``),
so an operator fixes a bad deployment in one round instead of one error per
restart. Each variable, its default, unit and rule: docs/configuration.md
(also ``.env.example``).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Mapping
from urllib.parse import urlsplit

from authgw_kit.settings import bind_address, check_bind_address, url_with_password_file
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

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
#: Upper bound of the refresh grace window (docs/login-and-tokens.md: "at most 10 s").
MAX_REFRESH_GRACE_SECONDS = 10
#: Upper bound of the outgoing OpenID provider calls, seconds: a login whose
#: provider does not answer fails fast instead of holding a worker thread.
MAX_OIDC_HTTP_TIMEOUT = 10
#: Smallest trust window of the revocation feed, seconds (several polls must fit).
MIN_REVOCATION_TRUST_WINDOW = 5
#: Hosts an ``http://`` PUBLIC_URL may name in production (cookies then lose
#: ``Secure``, which only a loopback origin can afford).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Rate-limit storage schemes the backend supports (limits' names); each also
#: needs its client library installed (redis for the redis schemes).
RATELIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel")
#: The problem of a DATABASE_URL SQLAlchemy cannot parse.
BAD_DATABASE_URL = "DATABASE_URL is not a SQLAlchemy URL (e.g. mysql+pymysql://app@db:3306/auth?charset=utf8mb4)"
#: Variables whose value never appears in a problem message.
SECRET_VARIABLES = frozenset({"SECRET_KEY", "GOOGLE_CLIENT_SECRET", "DATABASE_URL"})
#: Variables for which an empty value is a choice, not "unset".
EMPTY_IS_A_VALUE = frozenset({"METRICS_BIND"})


class ConfigError(Exception):
    """The configuration is unusable.

    Attributes:
        problems (list[str]): one human sentence per wrong setting, each
            naming the variable to fix.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(self.problems))


# -- value types of the schema -------------------------------------------------


def _origin(value: str) -> str:
    """An absolute http(s) URL, without a trailing slash."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


def _comma_list(value: Any) -> Any:
    """``a@x, B@y`` -> frozenset({"a@x", "b@y"}) (lower case, blanks dropped)."""
    if isinstance(value, str):
        return frozenset(item.strip().lower() for item in value.split(",") if item.strip())
    return value


def _rate(value: str) -> str:
    """A flask-limiter rate string (``30 per minute``, ``5/second;100/hour``)."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError("must be a rate like '30 per minute' or '5/second'") from None
    return value


def _storage_uri(value: str) -> str:
    scheme = value.partition("://")[0].lower() if "://" in value else ""
    if scheme not in RATELIMIT_STORAGE_SCHEMES:
        raise ValueError(
            "must be memory://, redis://host:port/db, rediss://host:port/db or "
            "redis+sentinel://host:port/service (memcached and mongodb storages are not installed)"
        )
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


OriginURL = Annotated[str, AfterValidator(_origin)]
EmailSet = Annotated[frozenset[str], NoDecode, BeforeValidator(_comma_list)]
Rate = Annotated[str, AfterValidator(_rate)]
#: Seconds as a finite float.
Seconds = Annotated[float, Field(allow_inf_nan=False)]


class Environment(BaseSettings):
    """The environment variables of the backend, each with its type, default and bounds.

    Each field is its variable in lower case; ``validation_alias`` names the
    variable exactly (names are case-sensitive). Build it with `Environment.from_mapping` (any mapping, e.g.
    a test's dict) rather than ``Environment()``. Rules that involve several
    variables are in `Environment.rule_violations`.

    Raises:
        pydantic.ValidationError: on construction, one entry per variable
            whose value is wrong on its own.
    """

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True, str_strip_whitespace=True)

    # -- deployment
    app_env: Annotated[Literal["development", "test", "production"], BeforeValidator(_lower)] = Field(
        "development", validation_alias="APP_ENV")
    public_url: OriginURL = Field(DEFAULT_PUBLIC_URL, validation_alias="PUBLIC_URL")
    secret_key: SecretStr | None = Field(None, validation_alias="SECRET_KEY")
    trusted_proxy_count: int = Field(1, ge=0, le=5, validation_alias="TRUSTED_PROXY_COUNT")
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = Field(
        "INFO", validation_alias="LOG_LEVEL")
    log_format: Annotated[Literal["json", "console"] | None, BeforeValidator(_lower)] = Field(
        None, validation_alias="LOG_FORMAT")
    metrics_bind: Annotated[str, AfterValidator(check_bind_address)] = Field("127.0.0.1:9100", validation_alias="METRICS_BIND")

    # -- database
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    database_password_file: Path | None = Field(None, validation_alias="DATABASE_PASSWORD_FILE")
    database_connect_timeout: Seconds = Field(1.0, gt=0, le=60, validation_alias="DATABASE_CONNECT_TIMEOUT")
    database_read_timeout: Seconds = Field(1.0, gt=0, le=3600, validation_alias="DATABASE_READ_TIMEOUT")
    database_write_timeout: Seconds = Field(1.0, gt=0, le=3600, validation_alias="DATABASE_WRITE_TIMEOUT")
    database_pool_timeout: Seconds = Field(2.0, gt=0, le=60, validation_alias="DATABASE_POOL_TIMEOUT")
    database_pool_size: int = Field(5, ge=1, le=100, validation_alias="DATABASE_POOL_SIZE")
    database_max_overflow: int = Field(10, ge=0, le=100, validation_alias="DATABASE_MAX_OVERFLOW")
    db_concurrency: int | None = Field(None, ge=1, le=200, validation_alias="DB_CONCURRENCY")
    #: gunicorn's threads per worker (backend/gunicorn.conf.py reads the same variable).
    gunicorn_threads: int = Field(4, ge=1, le=64, validation_alias="GUNICORN_THREADS")

    # -- OpenID provider
    google_client_id: str | None = Field(None, validation_alias="GOOGLE_CLIENT_ID")
    google_client_secret: SecretStr | None = Field(None, validation_alias="GOOGLE_CLIENT_SECRET")
    google_client_secret_file: Path = Field(Path("secrets/client-secret.json"), validation_alias="GOOGLE_CLIENT_SECRET_FILE")
    google_discovery_url: OriginURL = Field(GOOGLE_DISCOVERY_URL, validation_alias="GOOGLE_DISCOVERY_URL")
    dev_idp_url: OriginURL = Field(DEFAULT_DEV_IDP_URL, validation_alias="DEV_IDP_URL")
    dev_idp_internal_url: OriginURL | None = Field(None, validation_alias="DEV_IDP_INTERNAL_URL")
    oidc_http_timeout: Seconds = Field(5.0, gt=0, le=MAX_OIDC_HTTP_TIMEOUT, validation_alias="OIDC_HTTP_TIMEOUT")

    # -- tokens
    jwt_private_key_file: Path | None = Field(None, validation_alias="JWT_PRIVATE_KEY_FILE")
    jwt_algorithm: Annotated[Literal["ES256", "RS256"], BeforeValidator(_upper)] = Field(
        "ES256", validation_alias="JWT_ALGORITHM")
    jwt_issuer: str | None = Field(None, validation_alias="JWT_ISSUER")
    jwt_audience: str = Field("api", min_length=1, validation_alias="JWT_AUDIENCE")
    access_token_ttl: int = Field(900, ge=1, le=86400, validation_alias="ACCESS_TOKEN_TTL")
    refresh_token_ttl: int = Field(2592000, ge=60, le=31536000, validation_alias="REFRESH_TOKEN_TTL")
    refresh_grace_seconds: int = Field(MAX_REFRESH_GRACE_SECONDS, ge=0, le=MAX_REFRESH_GRACE_SECONDS,
                                       validation_alias="REFRESH_GRACE_SECONDS")
    client_credentials_token_ttl: int | None = Field(None, ge=60, le=86400, validation_alias="CLIENT_CREDENTIALS_TOKEN_TTL")
    revocation_poll_interval: Seconds = Field(1.0, ge=0.1, le=30, validation_alias="REVOCATION_POLL_INTERVAL")
    revocation_trust_window: int = Field(60, ge=MIN_REVOCATION_TRUST_WINDOW, le=3600, validation_alias="REVOCATION_TRUST_WINDOW")

    # -- who may sign in
    allowed_emails: EmailSet = Field(frozenset(), validation_alias="ALLOWED_EMAILS")
    allowed_email_domains: EmailSet = Field(frozenset(), validation_alias="ALLOWED_EMAIL_DOMAINS")
    admin_emails: EmailSet = Field(frozenset(), validation_alias="ADMIN_EMAILS")
    password_login: bool = Field(False, validation_alias="PASSWORD_LOGIN")

    # -- rate limits
    ratelimit_enabled: bool = Field(True, validation_alias="RATELIMIT_ENABLED")
    ratelimit_login: Rate = Field("30 per minute", validation_alias="RATELIMIT_LOGIN")
    ratelimit_refresh: Rate = Field("120 per minute", validation_alias="RATELIMIT_REFRESH")
    ratelimit_admin_write: Rate = Field("60 per minute", validation_alias="RATELIMIT_ADMIN_WRITE")
    ratelimit_storage_uri: Annotated[str, AfterValidator(_storage_uri)] = Field(
        "memory://", validation_alias="RATELIMIT_STORAGE_URI")
    redis_socket_timeout: Seconds = Field(1.0, gt=0, le=30, validation_alias="REDIS_SOCKET_TIMEOUT")
    redis_connect_timeout: Seconds = Field(1.0, gt=0, le=30, validation_alias="REDIS_CONNECT_TIMEOUT")

    @classmethod
    def variables(cls) -> list[str]:
        """Return the name of every variable of the schema, in declaration order."""
        return [info.validation_alias for info in cls.model_fields.values()]

    @classmethod
    def from_mapping(cls, environ: Mapping[str, str]) -> "Environment":
        """Read the declared variables from ``environ`` (empty counts as unset).

        Raises:
            pydantic.ValidationError: every variable whose value is wrong.
        """
        return cls(_build_sources=((_MappingSource(cls, environ),), {}))

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    def rule_violations(self) -> list[str]:
        """Return the problems of rules that involve several variables.

        Secret files are not read here (`load_settings` does). The production
        rules are those of docs/configuration.md ("Production").
        """
        problems = []
        if self.production:
            if self.database_url is None:
                problems.append("DATABASE_URL is required in production "
                                "(e.g. mysql+pymysql://app:pw@db:3306/auth?charset=utf8mb4)")
            secret = self.secret_key.get_secret_value() if self.secret_key else ""
            if not secret:
                problems.append("SECRET_KEY is required in production "
                                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')")
            elif len(secret) < MIN_SECRET_KEY_LENGTH or secret.strip().lower() in WEAK_SECRET_KEYS:
                problems.append(f"SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters")
            if self.jwt_private_key_file is None:
                problems.append(
                    "JWT_PRIVATE_KEY_FILE is required in production "
                    "(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out secrets/jwt-signing-key.pem)"
                )
            public = urlsplit(self.public_url)
            if public.scheme == "http" and public.hostname not in LOOPBACK_HOSTS:
                problems.append(
                    f"PUBLIC_URL must be https:// in production (cookies would lose Secure), got {self.public_url!r}; "
                    "http:// is accepted only for localhost, 127.0.0.1 or [::1]"
                )
        elif self.database_url is None and self.database_password_file is not None:
            problems.append("DATABASE_PASSWORD_FILE is set but DATABASE_URL is not: "
                            "the file only supplies DATABASE_URL's password")
        if self.jwt_private_key_file is not None and not self.jwt_private_key_file.is_file():
            problems.append(f"JWT_PRIVATE_KEY_FILE {self.jwt_private_key_file} does not exist or is not a file")
        if self.db_concurrency is not None and self.db_concurrency > self.database_pool_size + self.database_max_overflow:
            problems.append(
                f"DB_CONCURRENCY ({self.db_concurrency}) must not exceed DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW "
                f"({self.database_pool_size + self.database_max_overflow}): the requests beyond the pool would only "
                "wait DATABASE_POOL_TIMEOUT and fail"
            )
        if self.client_credentials_token_ttl is not None and self.client_credentials_token_ttl > self.access_token_ttl:
            problems.append(
                f"CLIENT_CREDENTIALS_TOKEN_TTL ({self.client_credentials_token_ttl}) must not exceed ACCESS_TOKEN_TTL "
                f"({self.access_token_ttl}): the revocation feed only covers ACCESS_TOKEN_TTL"
            )
        if self.revocation_poll_interval >= self.revocation_trust_window:
            problems.append(
                f"REVOCATION_POLL_INTERVAL ({self.revocation_poll_interval:g}) must be shorter than "
                f"REVOCATION_TRUST_WINDOW ({self.revocation_trust_window})"
            )
        problem = _storage_problem(self.ratelimit_storage_uri, _storage_options(
            self.ratelimit_storage_uri, self.redis_socket_timeout, self.redis_connect_timeout))
        if problem:
            problems.append(problem)
        return problems


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over any mapping.

    Only the declared variables are looked up (``environ.get(name)``), by
    their exact name. Surrounding blanks are dropped (except from
    ``SECRET_KEY``, used as given) and a blank value counts as unset, except
    for the variables of ``EMPTY_IS_A_VALUE``.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls, case_sensitive=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        found = {}
        for name in self.settings_cls.variables():
            value = self._environ.get(name)
            if value is None:
                continue
            stripped = value.strip()
            if stripped or name in EMPTY_IS_A_VALUE:
                found[name] = value if name == "SECRET_KEY" else stripped
        return found


class _Hiding(Mapping[str, str]):
    """``environ`` without the variables that failed, so the rules still run on defaults."""

    def __init__(self, environ: Mapping[str, str], hidden: set[str], overrides: dict[str, str]):
        self._environ, self._hidden, self._overrides = environ, hidden, overrides

    def __getitem__(self, name: str) -> str:
        if name in self._overrides:
            return self._overrides[name]
        if name in self._hidden:
            raise KeyError(name)
        return self._environ[name]

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(set(self._environ) - self._hidden | set(self._overrides))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error entry -> ``NAME: what is wrong (got 'value')``; secrets never echoed."""
    name = str(error["loc"][0]) if error["loc"] else "configuration"
    message = error["msg"].removeprefix("Value error, ")
    text = f"{name}: {message[:1].lower()}{message[1:]}"
    if name not in SECRET_VARIABLES and isinstance(error.get("input"), str):
        text += f" (got {error['input']!r})"
    return text


def read_environment(environ: Mapping[str, str]) -> tuple[Environment, list[str]]:
    """Validate ``environ`` against `Environment`.

    Returns:
        (environment, problems): ``problems`` has one sentence per wrong
        variable; ``environment`` then holds the defaults in their place (an
        unknown ``APP_ENV`` is judged as production, the strictest rules), so
        the cross-variable rules can still be checked in the same round.
    """
    try:
        return Environment.from_mapping(environ), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    failed = {str(error["loc"][0]) for error in errors if error["loc"]}
    overrides = {"APP_ENV": "production"} if "APP_ENV" in failed else {}
    return Environment.from_mapping(_Hiding(environ, failed, overrides)), [_describe(error) for error in errors]


# -- the resolved settings -------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Validated settings of one backend process (immutable).

    Each attribute, its variable, default and unit: docs/configuration.md.
    Durations are seconds. Secrets are left out of ``repr``. No defaults
    here: `load_settings` fills every attribute, from `Environment` (where
    the defaults are declared) or from what it derives.
    """

    app_env: str
    public_url: str
    database_url: str = field(repr=False)
    secret_key: str = field(repr=False)
    oidc_client_id: str
    oidc_client_secret: str = field(repr=False)
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
    allowed_emails: frozenset[str]
    allowed_email_domains: frozenset[str]
    admin_emails: frozenset[str]
    trusted_proxy_count: int
    ratelimit_storage_uri: str
    ratelimit_enabled: bool
    ratelimit_login: str
    ratelimit_refresh: str
    ratelimit_admin_write: str
    log_level: str
    #: ``json`` (one JSON object per line) or ``console`` (human-readable).
    log_format: str
    #: ``host:port`` of the internal metrics listener, None = no metrics.
    metrics_bind: str | None
    #: Local accounts (email + password) beside the OpenID provider.
    password_login: bool
    client_credentials_token_ttl: int
    oidc_http_timeout: float
    revocation_poll_interval: float
    revocation_trust_window: int
    database_connect_timeout: float
    database_read_timeout: float
    database_write_timeout: float
    database_pool_timeout: float
    database_pool_size: int
    database_max_overflow: int
    #: Bulkhead: DB-using requests one worker process runs at once.
    db_concurrency: int
    redis_socket_timeout: float
    redis_connect_timeout: float

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
        """Cookies carry ``Secure`` whenever PUBLIC_URL is https (docs/login-and-tokens.md)."""
        return self.public_url.startswith("https://")

    @property
    def redirect_uri(self) -> str:
        """The OAuth redirect URI registered with the provider."""
        return f"{self.public_url}/api/auth/callback"

    @property
    def database_engine_options(self) -> dict[str, Any]:
        """``SQLALCHEMY_ENGINE_OPTIONS`` for ``database_url`` (timeouts in seconds).

        MySQL/MariaDB drivers get the connect, read and write timeouts, so a
        hung database fails a request within them instead of holding a
        worker; SQLite gets nothing (no server, no pool to tune).
        """
        if self.database_url.startswith("sqlite"):
            return {}
        options: dict[str, Any] = {
            "pool_pre_ping": True,  # a restarted database never hands out dead connections
            "pool_recycle": 280,  # below MySQL's and proxies' idle cut-offs
            "pool_size": self.database_pool_size,
            "max_overflow": self.database_max_overflow,
            "pool_timeout": self.database_pool_timeout,
        }
        if self.database_url.startswith(("mysql", "mariadb")):
            options["connect_args"] = {
                "connect_timeout": self.database_connect_timeout,
                "read_timeout": self.database_read_timeout,
                "write_timeout": self.database_write_timeout,
            }
        return options

    @property
    def ratelimit_storage_options(self) -> dict[str, Any]:
        """``RATELIMIT_STORAGE_OPTIONS`` for ``ratelimit_storage_uri`` (redis socket timeouts, seconds)."""
        return _storage_options(self.ratelimit_storage_uri, self.redis_socket_timeout, self.redis_connect_timeout)

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of METRICS_BIND (IPv6 without brackets), or None when metrics are off."""
        return bind_address(self.metrics_bind)


def _storage_options(uri: str, socket_timeout: float, connect_timeout: float) -> dict[str, Any]:
    if uri.startswith("redis"):
        return {"socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout}
    return {}


def _storage_problem(uri: str, options: dict[str, Any]) -> str | None:
    """Build the limiter storage as flask-limiter will; return why it cannot be built.

    Building does not connect (redis-py connects on first use), it checks the
    URI and that the client library is installed.
    """
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    try:
        storage_from_string(uri, **options)
    except (ConfigurationError, ValueError, TypeError, ImportError) as exc:
        return f"RATELIMIT_STORAGE_URI cannot be used ({exc})"
    return None


def _database_problem(url: str) -> str | None:
    """Return why SQLAlchemy cannot build an engine for ``url`` (driver missing, not a URL)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return BAD_DATABASE_URL
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        return f"DATABASE_URL names an unknown database {parsed.drivername!r} (use mysql+pymysql:// or sqlite:///)"
    except ImportError as exc:
        return f"DATABASE_URL needs the driver of {parsed.drivername!r}, which is not installed ({exc.name})"
    return None


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


def load_settings(environ: Mapping[str, str] | None = None, instance_path: str | os.PathLike | None = None) -> Settings:
    """Read and validate every setting.

    Args:
        environ: variables to read (default ``os.environ``); only the
            variables `Environment` declares are looked up.
        instance_path: Flask instance folder; development keeps its generated
            signing key and session secret there.

    Returns:
        Settings: the validated, immutable settings.

    Raises:
        ConfigError: listing every problem found, e.g. production without
            ``SECRET_KEY``, with the dev IdP, without ``JWT_PRIVATE_KEY_FILE``,
            or a rate-limit storage flask-limiter cannot build
            (docs/configuration.md).
    """
    instance = Path(instance_path or Path.cwd() / "instance")
    env, problems = read_environment(os.environ if environ is None else environ)
    problems += env.rule_violations()
    production = env.production

    if env.database_url is None:
        database_url = f"sqlite:///{instance / 'authgw.sqlite3'}"
    elif env.database_password_file is not None:
        # The password never has to be spelled into the URL, so it may contain
        # any character and lives in a file only its readers can open, e.g.
        # the one compose's ``db-init`` generates on the first start.
        database_url = url_with_password_file(env.database_url, env.database_password_file,
                                              "DATABASE_PASSWORD_FILE", problems)
    else:
        database_url = env.database_url
    if not any(problem.startswith(("DATABASE_URL", "DATABASE_PASSWORD_FILE")) for problem in problems):
        problem = _database_problem(database_url)
        if problem:
            problems.append(problem)

    client_id = env.google_client_id
    client_secret = env.google_client_secret.get_secret_value() if env.google_client_secret else None
    if not client_id or not client_secret:
        file_id, file_secret = _read_client_secret_file(env.google_client_secret_file, problems)
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
        discovery_url = f"{env.dev_idp_url}/.well-known/openid-configuration"
        client_id, client_secret = DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET
        backchannel = env.dev_idp_internal_url
    else:
        if not client_secret:
            problems.append("GOOGLE_CLIENT_SECRET is not set (nor found in GOOGLE_CLIENT_SECRET_FILE)")
        discovery_url = env.google_discovery_url

    if problems:
        raise ConfigError(problems)

    secret_key = env.secret_key.get_secret_value() if env.secret_key else _instance_secret(instance)
    pool = env.database_pool_size + env.database_max_overflow
    derived = dict(
        database_url=database_url,
        secret_key=secret_key,
        oidc_client_id=client_id,
        oidc_client_secret=client_secret,
        oidc_discovery_url=discovery_url,
        oidc_backchannel_url=backchannel,
        uses_dev_idp=uses_dev_idp,
        jwt_private_key_file=env.jwt_private_key_file or instance / "jwt-signing-key.pem",
        jwt_issuer=env.jwt_issuer or env.public_url,
        allowed_email_domains=frozenset(domain.lstrip("@") for domain in env.allowed_email_domains),
        # JSON lines everywhere by default: the request ids of the gateway's
        # and the services' logs are meant to be joined (docs/operations.md).
        log_format=env.log_format or "json",
        metrics_bind=env.metrics_bind or None,
        client_credentials_token_ttl=env.client_credentials_token_ttl or min(600, env.access_token_ttl),
        # One thread per worker always stays free for token-only routes.
        db_concurrency=env.db_concurrency or min(pool, max(1, env.gunicorn_threads - 1)),
    )
    # Every other setting is its variable's validated value, as is.
    given = {item.name: getattr(env, item.name) for item in fields(Settings) if item.name not in derived}
    return Settings(**given, **derived)


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
