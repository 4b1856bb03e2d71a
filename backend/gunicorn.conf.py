"""gunicorn settings for the backend (read by entrypoint.sh)."""

import os

bind = os.environ.get("BACKEND_BIND", "0.0.0.0:8000")
# One worker per usable core plus one, four threads each: the request path is
# CPU-bound Python (more processes only add context switches and memory),
# threads cover the waits on MariaDB, Redis and the OpenID provider.
# docs/performance.md has the measurements behind these numbers.
workers = int(os.environ.get("GUNICORN_WORKERS", len(os.sched_getaffinity(0)) + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 30  # seconds; nginx keeps upstream connections open
timeout = 30
graceful_timeout = 10
control_socket_disable = True  # gunicorn 27: no control socket (read-only images, several instances)
# Access logging is nginx's job (its format never holds a token); gunicorn's
# default format would include query strings.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
