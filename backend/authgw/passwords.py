"""Passwords of local accounts (``PASSWORD_LOGIN=on``, docs/local-accounts.md).

Hashes are Argon2id (RFC 9106) through argon2-cffi with its defaults,
RFC 9106 §4's second recommended option: ``time_cost=3`` passes,
``memory_cost=65536`` KiB (64 MiB), ``parallelism=4`` lanes, 16-byte salt,
32-byte hash, stored as the PHC string (``$argon2id$v=19$m=65536,t=3,p=4$...``)
so parameters can be raised later: ``verify_password`` tells when a stored
hash needs rehashing.

Rules for a new password (NIST SP 800-63B §3.1.1.2): 12 to 128 characters,
any characters, no composition rules, and not a commonly used password.
"Commonly used" is judged with zxcvbn (Dropbox's estimator, Python port):
refused when the password is in its list of the 30 000 most common
leaked passwords, or when zxcvbn scores it below 2 (built from common
passwords, words, names, keyboard patterns or dates, with trivial changes,
e.g. ``Password1234!``).
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from .schemas import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

#: Lowest zxcvbn score (0-4) accepted: 2 means an estimated 10^6 guesses or more.
MIN_ZXCVBN_SCORE = 2

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (module docstring)


@functools.lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the account is unknown: same cost, no answer."""
    return _hasher.hash("not a password: equalises the time of unknown accounts")


def password_problem(password: str, *, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Say what is wrong with a new password, in words, or None when it is acceptable.

    Args:
        password: the candidate.
        user_inputs: the account's email and name: a password made of them
            is easy to guess (zxcvbn weighs them like common words).

    Returns:
        str | None: e.g. ``"password must be at least 12 characters long"``.
    """
    if not isinstance(password, str):
        return "password must be a string"
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"password must be at least {PASSWORD_MIN_LENGTH} characters long"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"password must be at most {PASSWORD_MAX_LENGTH} characters long"
    if password.lower() in _common_passwords():
        return "password is a commonly used password; choose another"
    inputs = [value for value in user_inputs if isinstance(value, str) and value]
    result = zxcvbn(password, user_inputs=inputs, max_length=PASSWORD_MAX_LENGTH)
    if result["score"] < MIN_ZXCVBN_SCORE:
        return ("password is too easy to guess (built from common passwords, words, names or patterns); "
                "a few unrelated words make a strong one")
    return None


def hash_password(password: str) -> str:
    """Return the Argon2id PHC string of ``password``."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """Check ``password`` against ``stored_hash`` in about the same time
    whether or not there is a hash (a dummy one is verified instead).

    Args:
        stored_hash: the account's PHC string, or None (unknown account or
            no password set).
        password: as presented.

    Returns:
        (ok, needs_rehash): whether it matches, and whether the stored hash
        uses older parameters than ``hash_password`` would.
    """
    try:
        _hasher.verify(stored_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    if stored_hash is None:
        return False, False
    return True, _hasher.check_needs_rehash(stored_hash)
