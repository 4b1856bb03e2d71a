"""gunicorn settings for a Flask service behind the gateway (docs/kit.md, "gunicorn settings").

One place for the settings the backend and the notes service share, so a
service of your own starts from the same, measured choices::

    # gunicorn.conf.py
    import os
    from authgw_kit.gunicorn import service_settings

    globals().update(service_settings(bind=os.environ.get("MYSERVICE_BIND", "127.0.0.1:8300")))

gunicorn reads a configuration file's module-level names, so the names
returned here become its settings; set any of them again below that line
to differ. Then ``json_error_pages()`` makes the answers gunicorn writes
itself (a request it cannot parse) JSON like every other error::

    from authgw_kit.gunicorn import json_error_pages, service_settings

    json_error_pages()

``service_settings`` does not import gunicorn; ``json_error_pages`` does.
"""

from __future__ import annotations

import json
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


#: status -> (error code, description) of gunicorn's own answers. No
#: description quotes the request: gunicorn's messages do, and a header
#: line may hold a token.
_ERRORS = {
    400: ("invalid_request", "The request is malformed: its request line or a header is not valid HTTP/1.1 "
                             "(a request target must be ASCII, RFC 3986; header values hold no control characters)."),
    403: ("forbidden", "The request is forbidden."),
    414: ("uri_too_long", "The request line is too long."),
    417: ("expectation_failed", "The Expect header cannot be met."),
    431: ("request_header_fields_too_large", "A request header is too large."),
    500: ("server_error", "The server failed to handle the request."),
}


def _json_error(status: int, reason: str) -> bytes:
    """The bytes of gunicorn's own error answer, JSON (``{"error", "error_description"}``)."""
    if status == 501:  # a transfer coding the client chose: bad input, so a 4xx
        status, reason = 400, "Bad Request"
    code, description = _ERRORS.get(status, ("invalid_request" if status < 500 else "server_error", reason))
    body = json.dumps({"error": code, "error_description": description}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Cache-Control: no-store\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def json_error_pages() -> None:
    """Make gunicorn answer the requests it cannot parse itself (bad request
    line, a control character in a header value, a line over its limits)
    with the JSON error shape, not its HTML page (docs/kit.md, "gunicorn
    settings").

    gunicorn has no setting or hook for these answers: every worker writes
    them through ``gunicorn.util.write_error(sock, status, reason, message)``
    (called from ``Worker.handle_error``, looked up on the module at each
    call), so this replaces that one function. Call it in the configuration
    file: the master runs it before forking, so every worker has it.
    Idempotent. gunicorn's message is logged by gunicorn as before and left
    out of the answer.
    """
    from gunicorn import util

    if getattr(util.write_error, "_authgw_json", False):
        return

    def write_error(sock, status_int, reason, mesg):
        util.write_nonblock(sock, _json_error(int(status_int), reason))

    write_error._authgw_json = True
    util.write_error = write_error


__all__ = ["json_error_pages", "service_settings"]
