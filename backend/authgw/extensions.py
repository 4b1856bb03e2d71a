"""Flask extensions, created unbound; ``create_app`` calls ``init_app``.

The OpenID client (Authlib) is per application: ``oidc.OpenIDProvider``.
"""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate()
# No X-RateLimit-*/Retry-After on every answer: errors.py adds Retry-After
# to 429 answers only.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
