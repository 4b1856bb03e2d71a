"""Errors: status, code, RFC 6750 challenge, JSON body."""

from authgw_kit.errors import (ExpiredToken, InsufficientScope, InvalidToken, MissingToken, TokenError,
                               VerifierUnavailable)


def test_missing_token_challenge_has_no_error_code():
    error = MissingToken()
    assert error.status == 401
    assert error.headers()["WWW-Authenticate"] == 'Bearer realm="api"'
    assert error.to_dict()["error"] == "invalid_token"


def test_invalid_token_challenge_names_the_error():
    error = InvalidToken('bad "quoted" token\\')
    assert error.status == 401 and isinstance(error, TokenError)
    challenge = error.headers()["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token"')
    assert challenge.count('"') == 6  # quotes of the description are stripped
    assert error.to_dict() == {"error": "invalid_token", "error_description": 'bad "quoted" token\\'}


def test_expired_is_invalid_token():
    assert issubclass(ExpiredToken, InvalidToken) and "expired" in ExpiredToken().description


def test_insufficient_scope_is_403_and_names_the_permission():
    error = InsufficientScope(permission="notes:write")
    assert error.status == 403 and error.error == "insufficient_scope"
    assert error.headers()["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
    assert "notes:write" in error.description


def test_unavailable_is_503_with_retry_after_and_no_challenge():
    error = VerifierUnavailable()
    assert error.status == 503 and error.error == "service_unavailable"
    assert error.headers() == {"Cache-Control": "no-store", "Retry-After": "5"}
    assert set(error.to_dict()) == {"error", "error_description"}
