"""Small helpers for a service's own settings (docs/kit.md, "Settings helpers").

A service behind the gateway reads its settings from the environment and
refuses to start with every problem listed at once. Two pieces recur in
such settings and live here so that every service checks them alike:

- a ``host:port`` listen address that may be empty (a feature turned off),
  e.g. an internal metrics listener: :func:`check_bind_address` validates
  it, :func:`bind_address` turns it into the ``(host, port)`` a socket
  binds (IPv6 ``[::1]:9100`` -> ``("::1", 9100)``);
- a secret kept in a file rather than spelled into a variable (Docker and
  Kubernetes secrets, ``*_FILE`` variables): :func:`read_secret_file`
  reads it and reports a missing, unreadable or empty file as a problem
  sentence naming the variable, never the secret;
  :func:`url_with_password_file` puts such a secret into a SQLAlchemy
  database URL as its password (``DATABASE_PASSWORD_FILE``).

Nothing here imports a framework or a settings library; only
:func:`url_with_password_file` imports SQLAlchemy, when called.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence


def check_bind_address(value: str, *, example: str = "127.0.0.1:9100") -> str:
    """Validate a ``host:port`` (or ``[v6]:port``) listen address; empty means off.

    Suited to a pydantic ``field_validator`` / ``AfterValidator``.

    Args:
        value: the setting, e.g. ``127.0.0.1:9100``, ``[::1]:9200`` or ``""``.
        example: the address the error message offers as an example.

    Returns:
        str: ``value`` unchanged.

    Raises:
        ValueError: no ``:``, an empty host, or a port that is not a number
            from 1 to 65535.
    """
    if value == "":
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be host:port (e.g. {example}), or empty to turn metrics off")
    return value


def bind_address(value: str | None) -> tuple[str, int] | None:
    """Return the ``(host, port)`` of a checked listen address, or None when it is empty or None.

    Args:
        value: an address :func:`check_bind_address` accepted; the brackets
            of an IPv6 host are dropped (``[::1]:9100`` -> ``("::1", 9100)``).

    Returns:
        tuple[str, int] | None: host and TCP port, or None (off).
    """
    if not value:
        return None
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def read_secret_file(path: str | os.PathLike[str], variable: str, problems: list[str]) -> str | None:
    """Read a secret from a file, dropping its trailing line breaks.

    The secret never has to be spelled into a variable or URL, so it may
    hold any character and lives in a file only the service can read.

    Args:
        path: the file, e.g. the value of ``DATABASE_PASSWORD_FILE``.
        variable: the variable that named the file, used in problem sentences.
        problems: list the problem is appended to when the file cannot be
            used: ``"<variable> <path> does not exist"``, ``"... is not
            readable (<ExceptionName>)"`` or ``"... is empty"``. The
            file's content is never put in a sentence.

    Returns:
        str | None: the secret, or None after appending a problem.
    """
    try:
        secret = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        problems.append(f"{variable} {path} does not exist")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{variable} {path} is not readable ({exc.__class__.__name__})")
        return None
    if not secret:
        problems.append(f"{variable} {path} is empty")
        return None
    return secret


def url_with_password_file(url: str, path: str | os.PathLike[str], variable: str, problems: list[str]) -> str:
    """Return the SQLAlchemy database URL ``url`` with its password read from the file ``path``.

    The password may hold any character (SQLAlchemy escapes it in the
    returned URL) and never has to be spelled into the URL's variable.

    Args:
        url: a SQLAlchemy URL, e.g. ``mysql+pymysql://app@db:3306/auth``.
        path: the password file (trailing line breaks dropped).
        variable: the variable that named the file, for problem sentences
            (:func:`read_secret_file`).
        problems: list a problem is appended to when the file cannot be used
            (a ``url`` that does not parse is left to the URL's own check).

    Returns:
        str: the URL with the password (rendered with it, so keep it out of
        logs), or ``url`` unchanged after a problem.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    password = read_secret_file(path, variable, problems)
    if password is None:
        return url
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)


def url_list(value: str | Sequence[str]) -> tuple[str, ...]:
    """One URL, several separated by commas or white space, or a sequence of
    them (the URLs of backend replicas, docs/kit.md "Several backends").

    Returns:
        tuple[str, ...]: the URLs, in order, empty entries dropped (no check
        of their form: that is the caller's).
    """
    parts = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value)
    return tuple(part.strip() for part in parts if part and part.strip())


__all__ = ["check_bind_address", "bind_address", "read_secret_file", "url_list", "url_with_password_file"]
