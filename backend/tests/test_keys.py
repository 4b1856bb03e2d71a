"""Key ids are RFC 7638 thumbprints (``authgw.keys.jwk_thumbprint``)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import import_key

from authgw.keys import _signing_key, jwk_thumbprint


@pytest.mark.parametrize("private_key", [ec.generate_private_key(ec.SECP256R1()),
                                         rsa.generate_private_key(public_exponent=65537, key_size=2048)],
                         ids=["EC P-256", "RSA 2048"])
def test_kid_is_the_rfc7638_thumbprint_an_independent_library_computes(private_key):
    key = _signing_key(private_key)
    pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.kid == import_key(pem, key.public_jwk["kty"]).thumbprint()


def test_thumbprint_ignores_optional_members_and_their_order():
    jwk = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
           "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
    assert jwk_thumbprint({**jwk, "kid": "x", "use": "sig", "alg": "ES256"}) == jwk_thumbprint(dict(reversed(jwk.items())))


def test_thumbprint_of_an_unsupported_key_type_is_refused():
    with pytest.raises(KeyError):
        jwk_thumbprint({"kty": "oct", "k": "c2VjcmV0"})
