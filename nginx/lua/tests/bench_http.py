"""Throughput and worker CPU of the test nginx's locations (hot token, the
same content handler on all), with wrk, in interleaved rounds. Prints;
asserts nothing (docs/gateway-lua.md "Numbers").

    .venv/bin/python nginx/lua/tests/bench_http.py [SECONDS] [ROUNDS]

CPU is the user + system time of the nginx workers over the requests wrk
counted (`/proc/<pid>/stat`, clock ticks), so the figure is per request of
the whole worker: HTTP, the kernel's loopback, the check.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_gateway_nginx as t  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

#: name -> (path, send the token?)
VARIANTS = {
    "unprotected": ("/open", False),
    "unprotected + header": ("/open", True),
    "empty access_by_lua": ("/emptyaccess", True),
    "check, named route": ("/checked", True),
    "check, route table per request": ("/checked-by-table", True),
}


def worker_cpu_seconds(master: int) -> float:
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(path: str, seconds: int, token: str | None) -> tuple[float, int, str]:
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd + [t.BASE + path], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    return rps, requests, p99


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    keys = {"k1": ec.generate_private_key(ec.SECP256R1())}
    stub = t.Stub(t.STUB_PORT)
    stub.jwks = {"keys": [t.jwk_of(keys["k1"], "k1")]}
    proc = t.start_nginx(Path(tempfile.mkdtemp()), t.NGINX_PORT)
    try:
        time.sleep(1)
        token = t.mint(keys)
        for path, _ in VARIANTS.values():
            assert t.get(token, path=path).status_code == 200, path
        runs: dict[str, list[tuple[float, float, str]]] = {name: [] for name in VARIANTS}
        for _ in range(rounds):
            for name, (path, send) in VARIANTS.items():
                before = worker_cpu_seconds(proc.pid)
                rps, requests, p99 = wrk(path, seconds, token if send else None)
                runs[name].append((rps, (worker_cpu_seconds(proc.pid) - before) / requests * 1e6, p99))
        base = runs["unprotected + header"]
        print(f"{'':32}{'req/s':>9}{'CPU us':>8}{'+us':>7}{'ratio':>7}  (medians of {rounds} rounds; "
              "+us and ratio paired with 'unprotected + header')")
        for name, rs in runs.items():
            extra = statistics.median(r[1] - b[1] for r, b in zip(rs, base))
            ratio = statistics.median(r[0] / b[0] for r, b in zip(rs, base))
            print(f"{name:32}{statistics.median(r[0] for r in rs):9.0f}{statistics.median(r[1] for r in rs):8.2f}"
                  f"{extra:+7.2f}{ratio:7.3f}")
    finally:
        t.stop_nginx(proc)
        stub.stop()


if __name__ == "__main__":
    main()
