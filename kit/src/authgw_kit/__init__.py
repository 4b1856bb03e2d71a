"""authgw_kit: verify authgw access tokens inside a Python service.

The core knows no framework::

    from authgw_kit import TokenVerifier
    verifier = TokenVerifier.from_env()            # AUTHGW_ISSUER, AUTHGW_JWKS_URL, ...
    token = verifier.verify_authorization_header(request_headers.get("Authorization"))
    token.subject, token.permissions, token.has_permission("notes:write")

Adapters: ``authgw_kit.flask`` (Flask extension), ``authgw_kit.asgi`` (ASGI
middleware), ``authgw_kit.fastapi`` (dependencies). Service plumbing shared
with authgw's own services (imported on their own, not here):
``authgw_kit.settings``, ``authgw_kit.metrics``, ``authgw_kit.gunicorn``,
``authgw_kit.migrations``. Reference: docs/kit.md.
"""

from .errors import (ExpiredToken, InsufficientScope, InvalidToken, MissingToken, TokenError,
                     VerifierUnavailable)
from .keys import JWKSClient, StaticKeys, VerificationKey, keys_from_jwks
from .revocations import RevocationList, RevocationSnapshot
from .token import VerifiedToken
from .verifier import TokenVerifier
from .verify import decode_access_token

__version__ = "0.1.0"

__all__ = [
    "TokenVerifier", "JWKSClient", "StaticKeys", "VerificationKey", "keys_from_jwks", "RevocationList",
    "RevocationSnapshot", "VerifiedToken", "decode_access_token", "TokenError", "MissingToken",
    "InvalidToken", "ExpiredToken", "InsufficientScope", "VerifierUnavailable", "__version__",
]
