"""Signing keys and the public JWK Set (RFC 7517).

The key file (``JWT_PRIVATE_KEY_FILE``) holds one or more PEM private keys:
the first signs new tokens, the others are previous keys whose tokens may
still be alive after a rotation; all are published in the JWK Set. Key
objects are parsed once at startup, never per request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

_PEM_BLOCK = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)
MIN_RSA_BITS = 2048


class SigningKeyError(ValueError):
    """The key file is missing, unreadable, or holds an unsupported key."""


@dataclass(frozen=True)
class SigningKey:
    """One key pair: ``kid`` is its RFC 7638 JWK thumbprint."""

    kid: str
    algorithm: str
    private_key: object = field(repr=False)
    public_key: object = field(repr=False)
    public_jwk: dict = field(repr=False)


@dataclass(frozen=True)
class KeySet:
    """The current signing key plus every key still published."""

    signing_key: SigningKey
    keys: dict[str, SigningKey]

    @property
    def algorithms(self) -> list[str]:
        return sorted({key.algorithm for key in self.keys.values()})

    def jwks(self) -> dict:
        """Return the public JWK Set: ``{"keys": [{"kty", "kid", "alg", "use": "sig", ...}]}``."""
        return {"keys": [dict(key.public_jwk) for key in self.keys.values()]}


def _algorithm_for(private_key) -> str:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise SigningKeyError(f"EC keys must use P-256 for ES256, not {private_key.curve.name}")
        return "ES256"
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < MIN_RSA_BITS:
            raise SigningKeyError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
        return "RS256"
    raise SigningKeyError(f"unsupported key type {type(private_key).__name__}: use EC P-256 (ES256) or RSA (RS256)")


#: Members of a public JWK that its RFC 7638 §3.2 thumbprint covers, by ``kty``.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def jwk_thumbprint(jwk: dict) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of a public JWK, base64url.

    Args:
        jwk: an EC (``crv``, ``x``, ``y``) or RSA (``n``, ``e``) public JWK.

    Returns:
        str: unpadded base64url of SHA-256 over the required members in
        lexicographic order, no whitespace (RFC 7638 §3.1-3.3).

    Raises:
        KeyError: ``kty`` is not EC or RSA, or a required member is missing.
    """
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")


def _signing_key(private_key) -> SigningKey:
    algorithm = _algorithm_for(private_key)
    public_key = private_key.public_key()
    jwk = (ECAlgorithm if algorithm == "ES256" else RSAAlgorithm).to_jwk(public_key, as_dict=True)
    kid = jwk_thumbprint(jwk)
    jwk.update({"kid": kid, "alg": algorithm, "use": "sig"})
    return SigningKey(kid=kid, algorithm=algorithm, private_key=private_key, public_key=public_key, public_jwk=jwk)


def load_key_set(path: Path, algorithm: str) -> KeySet:
    """Parse every PEM private key in ``path``.

    Args:
        path: PEM file, one or more unencrypted PKCS#8 or traditional keys.
        algorithm: ``ES256`` or ``RS256``; the first key must match it.

    Returns:
        KeySet: first key signs, every key verifies and is published.

    Raises:
        SigningKeyError: file unreadable, no key, a weak or unsupported key, or
            the first key not matching ``algorithm``.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read signing key file {path}: {exc.strerror}") from None
    blocks = _PEM_BLOCK.findall(data)
    if not blocks:
        raise SigningKeyError(f"no PEM private key found in {path}")
    keys: list[SigningKey] = []
    for block in blocks:
        try:
            private_key = serialization.load_pem_private_key(block, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"unreadable private key in {path}: {exc}") from None
        keys.append(_signing_key(private_key))
    if keys[0].algorithm != algorithm:
        raise SigningKeyError(f"the first key in {path} is for {keys[0].algorithm}, but JWT_ALGORITHM is {algorithm}")
    return KeySet(signing_key=keys[0], keys={key.kid: key for key in keys})


def generate_key_file(path: Path, algorithm: str) -> None:
    """Create a new private key at ``path`` (mode 0600) unless one exists.

    Development only (production requires ``JWT_PRIVATE_KEY_FILE``). Safe
    when several workers start at once: the file appears atomically.
    """
    path = Path(path)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.write(fd, pem)
        os.close(fd)
        os.chmod(tmp, 0o600)
        os.link(tmp, path)  # fails if another worker created it first
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
