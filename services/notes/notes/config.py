"""Settings of the notes service, read from the environment in one place.

Every setting is validated at once and every problem is reported together
(:class:`ConfigError`), so a misconfigured deployment refuses to start with a
readable list instead of failing in a worker. No setting has a secret
default. The variables are documented in ``docs/notes.md``.
"""

from __future__ import annotations

import os
from typing import Mapping, TextIO
from urllib.parse import urlsplit

from authgw_kit.settings import bind_address, check_bind_address, url_list, url_with_password_file
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(Exception):
    """The environment holds invalid settings.

    Attributes:
        problems (list[str]): one human sentence per bad setting.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))

    def report(self, stream: TextIO) -> None:
        """Write every problem to ``stream``, one a line, under a heading saying the service refuses to start."""
        print("notes: refusing to start, fix these settings:", file=stream)
        for problem in self.problems:
            print(f"  - {problem}", file=stream)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


class Settings(BaseModel):
    """The service's settings (field aliases are the environment variable names)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    #: SQLAlchemy URL of the notes database, e.g.
    #: ``mysql+pymysql://notes:pw@127.0.0.1:3306/notes?charset=utf8mb4``.
    #: With ``NOTES_DATABASE_PASSWORD_FILE`` the password comes from that file.
    database_url: str = Field(alias="NOTES_DATABASE_URL", min_length=1, repr=False)
    #: ``iss`` the access tokens must carry (the backend's ``JWT_ISSUER``).
    issuer: str = Field(alias="AUTHGW_ISSUER", min_length=1)
    #: ``aud`` the access tokens must carry (the backend's ``JWT_AUDIENCE``).
    audience: str = Field(alias="AUTHGW_AUDIENCE", min_length=1)
    #: The backend's JWK Set (RFC 7517), e.g. ``http://127.0.0.1:8000/.well-known/jwks.json``.
    jwks_url: str = Field(alias="AUTHGW_JWKS_URL")
    #: The backend's revocation feed (``/api/internal/revocations``).
    revocations_url: str = Field(alias="AUTHGW_REVOCATIONS_URL")
    #: Seconds the last revocation snapshot is trusted when the feed cannot be read.
    trust_window: int = Field(alias="AUTHGW_TRUST_WINDOW", default=60, ge=1, le=3600)
    #: Signature algorithms accepted (comma-separated). Each key of the JWK Set
    #: still verifies only its own ``alg`` (RFC 8725 §3.1), so accepting both
    #: follows the backend's ``JWT_ALGORITHM`` without a second setting.
    algorithms: str = Field(alias="AUTHGW_ALGORITHMS", default="ES256,RS256")
    #: Seconds to wait for the database at start before giving up.
    database_wait: int = Field(alias="NOTES_DATABASE_WAIT", default=60, ge=0, le=3600)
    #: Python logging level name.
    log_level: str = Field(alias="LOG_LEVEL", default="INFO")
    #: ``host:port`` of the internal Prometheus listener (gunicorn master); empty: off.
    metrics_bind: str = Field(alias="NOTES_METRICS_BIND", default="")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not (value.startswith("mysql+pymysql://") or value.startswith("mariadb+pymysql://")
                or value.startswith("sqlite:")):
            raise ValueError("must be a mysql+pymysql:// (or sqlite: for tests) SQLAlchemy URL")
        return value

    @field_validator("jwks_url", "revocations_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        # One URL, or one per backend replica separated by commas (docs/kit.md "Several backends").
        urls = url_list(value)
        if not urls:
            raise ValueError("must be an http:// or https:// URL")
        return ",".join(_http_url(url) for url in urls)

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if not names or not set(names) <= {"ES256", "RS256"}:
            raise ValueError("must list ES256 and/or RS256, comma-separated")
        return ",".join(names)

    @property
    def algorithm_list(self) -> tuple[str, ...]:
        """``algorithms`` as a tuple, e.g. ``("ES256", "RS256")``."""
        return tuple(self.algorithms.split(","))

    @field_validator("metrics_bind")
    @classmethod
    def _metrics_bind(cls, value: str) -> str:
        return check_bind_address(value, example="127.0.0.1:9200")

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of NOTES_METRICS_BIND (IPv6 without brackets), or None when off."""
        return bind_address(self.metrics_bind)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings.

    Args:
        environ: mapping read instead of ``os.environ`` (tests).

    Returns:
        Settings: the validated settings.

    Raises:
        ConfigError: one or more settings are missing or invalid (all listed).
    """
    source = os.environ if environ is None else environ
    names = {field.alias for field in Settings.model_fields.values()}
    values = {name: source[name] for name in names if source.get(name, "") != ""}
    problems: list[str] = []
    password_file = source.get("NOTES_DATABASE_PASSWORD_FILE", "")
    if password_file:
        if "NOTES_DATABASE_URL" in values:
            # The password never has to be spelled into the URL, so it may hold any
            # character and lives in a file only the service can read (compose's
            # ``db-init`` writes one). A bad URL is reported by its own check.
            values["NOTES_DATABASE_URL"] = url_with_password_file(
                values["NOTES_DATABASE_URL"], password_file, "NOTES_DATABASE_PASSWORD_FILE", problems)
        else:
            problems.append("NOTES_DATABASE_PASSWORD_FILE is set but NOTES_DATABASE_URL is not: "
                            "the file only supplies the URL's password")
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name = error["loc"][0] if error["loc"] else "settings"
            message = "is required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
            problems.append(f"{name} {message}")
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return settings
