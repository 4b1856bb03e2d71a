"""Settings of the notes service, read from the environment in one place.

Every setting is validated at once and every problem is reported together
(:class:`ConfigError`), so a misconfigured deployment refuses to start with a
readable list instead of failing in a worker. No setting has a secret
default. The variables are documented in ``docs/notes.md``.
"""

from __future__ import annotations

import os
from typing import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(Exception):
    """The environment holds invalid settings.

    Attributes:
        problems (list[str]): one human sentence per bad setting.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


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
    database_url: str = Field(alias="NOTES_DATABASE_URL", min_length=1)
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
    #: Seconds to wait for the database at start before giving up.
    database_wait: int = Field(alias="NOTES_DATABASE_WAIT", default=60, ge=0, le=3600)
    #: Python logging level name.
    log_level: str = Field(alias="LOG_LEVEL", default="INFO")

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
        return _http_url(value)

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
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = error["loc"][0] if error["loc"] else "settings"
            message = "is required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
            problems.append(f"{name} {message}")
        raise ConfigError(problems) from None
