"""Flask extensions, created unbound; ``create_app`` calls ``init_app``.

The OpenID client (Authlib) is per application: ``oidc.OpenIDProvider``.
Flask-Migrate is not here: ``create_app`` binds it only when a ``flask db``
command runs, so the web workers never import Alembic.
"""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
# No X-RateLimit-*/Retry-After on every answer: errors.py adds Retry-After
# to 429 answers only.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
