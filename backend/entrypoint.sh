#!/bin/sh
# The one start script of the backend, used by docker compose and by
# scripts/stack alike: wait for the database (with backoff), apply the
# Alembic migrations, then replace this shell with gunicorn.
#   BACKEND_BIND      address:port gunicorn listens on (default 0.0.0.0:8000)
#   GUNICORN_WORKERS  worker processes (default 2 x cores + 1, see gunicorn.conf.py)
set -eu
cd "$(dirname "$0")"
export FLASK_APP=authgw:create_app
python -m authgw check-config
flask wait-for-db
flask db upgrade
exec gunicorn --config gunicorn.conf.py "authgw:create_app()"
