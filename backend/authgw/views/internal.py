"""``/api/internal/*``: what gateways and services poll, never published.

The gateway answers ``404`` for ``/api/internal/*`` (docs/gateway.md);
gateways, the token-verification kit and services reach these routes on
the backend's own address (docs/login-and-tokens.md "The revocation feed").
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..bearer import public
from ..extension import current_authgw
from ..extensions import db
from ..revocation import read_snapshot

bp = Blueprint("internal", __name__, url_prefix="/api/internal")


@bp.get("/revocations")
@public
def revocations():
    """``200`` revocation snapshot (``revocation.read_snapshot``), ``Cache-Control: no-store``.

    A database outage answers ``503 service_unavailable`` with
    ``Retry-After`` (errors.py); pollers then keep their last snapshot.
    """
    with db.engine.connect() as connection:
        snapshot = read_snapshot(connection, current_authgw().revocation_feed.window)
    response = jsonify(snapshot)
    response.headers["Cache-Control"] = "no-store"
    return response
