"""Throughput of a protected vs an unprotected location of the test nginx
(hot token, same content handler), with wrk. Prints; asserts nothing.

    .venv/bin/python nginx/lua/tests/bench_http.py [SECONDS]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_gateway_nginx as t  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402


def wrk(path: str, seconds: int, token: str | None) -> tuple[float, str]:
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd + [t.BASE + path], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    return rps, p99


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    keys = {"k1": ec.generate_private_key(ec.SECP256R1())}
    stub = t.Stub(t.STUB_PORT)
    stub.jwks = {"keys": [t.jwk_of(keys["k1"], "k1")]}
    proc = t.start_nginx(Path(tempfile.mkdtemp()), t.NGINX_PORT)
    try:
        time.sleep(1)
        token = t.mint(keys)
        assert t.get(token, path="/checked").status_code == 200
        rows = []
        for _ in range(2):
            rows.append(("unprotected", *wrk("/open", seconds, None)))
            rows.append(("unprotected + header", *wrk("/open", seconds, token)))
            rows.append(("empty access_by_lua", *wrk("/emptyaccess", seconds, token)))
            rows.append(("protected, hot token", *wrk("/checked", seconds, token)))
        for name, rps, p99 in rows:
            print(f"{name:24} {rps:10.0f} req/s  p99 {p99}")
        def total(name):
            return sum(r[1] for r in rows if r[0] == name)
        prot = total("protected, hot token")
        print(f"ratio protected / unprotected: {prot / total('unprotected'):.3f}")
        print(f"ratio protected / unprotected with the same header: {prot / total('unprotected + header'):.3f}")
    finally:
        t.stop_nginx(proc)
        stub.stop()


if __name__ == "__main__":
    main()
