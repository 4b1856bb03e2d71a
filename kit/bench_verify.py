#!/usr/bin/env python3
"""Time the kit's in-process verify against raw PyJWT ``jwt.decode`` (same key, same token).

Prints microseconds per call, best of several rounds, side by side:

- ``pyjwt``: ``jwt.decode(token, key, algorithms=["ES256"], audience=, issuer=)``;
- ``kit_cold``: ``TokenVerifier.verify`` with the cache off: every check of
  docs/kit.md plus the revocation rules (the target is <= 1.1x pyjwt);
- ``kit_hot``: ``TokenVerifier.verify`` answered from its cache (revocation
  still checked).

Usage: ``python kit/bench_verify.py [--rounds 7] [--number 2000] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import timeit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from authgw_kit import RevocationList, StaticKeys, TokenVerifier, VerificationKey

ISSUER, AUDIENCE = "https://authgw.bench", "api"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()

    private_key = ec.generate_private_key(ec.SECP256R1())
    public_key = private_key.public_key()
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "42", "iat": now, "exp": now + 900, "jti": "bench",
              "sid": "sid-bench", "email": "bench@example.test", "name": "Bench", "roles": ["user"],
              "permissions": ["notes:read", "notes:write"]}
    token = jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": "bench", "typ": "at+jwt"})
    keys = StaticKeys(keys=[VerificationKey("bench", "ES256", public_key)])
    snapshot = {"sessions": {f"sid-{i}": now for i in range(100)}, "subjects": {}, "roles": {}}

    def verifier(cache_size: int) -> TokenVerifier:
        return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, cache_size=cache_size,
                             revocations=RevocationList(fetch=lambda: snapshot, background=False))

    cold, hot = verifier(0), verifier(1024)
    calls = {
        "pyjwt": lambda: jwt.decode(token, public_key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER),
        "kit_cold": lambda: cold.verify(token),
        "kit_hot": lambda: hot.verify(token),
    }
    for call in calls.values():
        call()  # warm up (and fill the hot cache)
    best: dict[str, float] = {name: float("inf") for name in calls}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        # Interleaved rounds, so that load from other processes hits every figure alike.
        for name, call in calls.items():
            micros = timeit.timeit(call, number=args.number) / args.number * 1e6
            samples[name].append(micros)
            best[name] = min(best[name], micros)
    ratio = best["kit_cold"] / best["pyjwt"]
    if args.json:
        print(json.dumps({"unit": "us_per_call", "best": best,
                          "median": {n: statistics.median(s) for n, s in samples.items()},
                          "kit_cold_over_pyjwt": round(ratio, 3)}))
        return
    print(f"{'':10} {'best us':>9} {'median us':>10}")
    for name in calls:
        print(f"{name:10} {best[name]:9.1f} {statistics.median(samples[name]):10.1f}")
    print(f"kit_cold / pyjwt = {ratio:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
