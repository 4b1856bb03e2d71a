"""gunicorn settings for a Flask service behind the gateway (docs/kit.md, "gunicorn settings").

One place for the settings the backend and the notes service share, so a
service of your own starts from the same, measured choices::

    # gunicorn.conf.py
    import os
    from authgw_kit.gunicorn import service_settings

    globals().update(service_settings(bind=os.environ.get("MYSERVICE_BIND", "127.0.0.1:8300")))

gunicorn reads a configuration file's module-level names, so the names
returned here become its settings; set any of them again below that line
to differ. This module does not import gunicorn.
"""

from __future__ import annotations

import os
from typing import Any, Mapping


def service_settings(bind: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the shared gunicorn settings, by gunicorn setting name.

    - ``workers``: ``GUNICORN_WORKERS``, default one per usable core plus
      one; ``worker_class`` ``gthread`` with ``GUNICORN_THREADS`` (default 4)
      threads each. The request path is CPU-bound Python (more processes
      only add context switches and memory); threads cover the waits on the
      database, Redis and the other services (docs/performance.md).
    - ``keepalive`` 30 s (the gateway keeps upstream connections open),
      ``timeout`` 30 s, ``graceful_timeout`` 10 s.
    - ``control_socket_disable``: no control socket (read-only images,
      several instances in one folder).
    - ``accesslog`` off: access logging is the gateway's job (its format
      never holds a token; gunicorn's default format includes query
      strings). ``errorlog`` standard error, ``loglevel`` from ``LOG_LEVEL``
      (default ``info``).
    - ``limit_request_line`` 8190 and ``limit_request_field_size`` 32768
      bytes, gunicorn's largest: gunicorn answers longer lines or header
      fields itself in HTML, so with these only requests the gateway
      (8 KiB buffers) already refuses as JSON reach those limits, and every
      token up to 8192 bytes gets the kit's JSON answer.

    Args:
        bind: the ``host:port`` to listen on (``bind``).
        environ: variables to read (default ``os.environ``).

    Returns:
        dict[str, Any]: gunicorn setting name -> value.

    Raises:
        ValueError: ``GUNICORN_WORKERS`` or ``GUNICORN_THREADS`` is not an integer.
    """
    env = os.environ if environ is None else environ
    return {
        "bind": bind,
        "workers": int(env.get("GUNICORN_WORKERS", len(os.sched_getaffinity(0)) + 1)),
        "worker_class": "gthread",
        "threads": int(env.get("GUNICORN_THREADS", "4")),
        "keepalive": 30,
        "timeout": 30,
        "graceful_timeout": 10,
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": env.get("LOG_LEVEL", "info").lower(),
        "limit_request_line": 8190,
        "limit_request_field_size": 32768,
    }


__all__ = ["service_settings"]
