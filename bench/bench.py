#!/usr/bin/env python3
"""authgw benchmark: what the token check costs, side by side with no check.

One command (``bench/run``) brings up its own native stack (``scripts/stack
up`` with its own ports and state in ``.stack-bench/``), seeds the database,
measures, prints a table with PASS/FAIL per target of issue 6, writes JSON to
``bench/results/<timestamp>.json`` and stops the stack (unless ``--keep``).

Phases (docs/performance.md explains the method):

1. baseline   GET /api/public/ping through the gateway, no token check;
2. protected  GET /api/ping with valid tokens: gateway check + backend check;
3. invalid    GET /api/ping with forged tokens (401 path);
4. refresh    POST /api/auth/refresh (JSON body) with rotation on MariaDB;
5. sign-in    login -> dev IdP -> callback, complete flows per second;
6. verify     in-process token verification, microseconds per token;
7. memory     RSS of every process of the stack after the run;
then 1, 2 and 4 again with 100,000 users and 100,000 live sessions.

Load: wrk (-t2 -c32 by default) on 127.0.0.1 only, bounded duration.
Baseline, protected and invalid runs are interleaved (A B C A B C ...) and
the median of the rounds is reported, because other processes share the
machine; load averages are recorded with every run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

# bench/figures.py imports this module as `bench`: one copy, also when run as a script.
sys.modules.setdefault("bench", sys.modules[__name__])
import figures  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
LUA_DIR = BENCH_DIR / "lua"
RESULTS_DIR = BENCH_DIR / "results"
sys.path.insert(0, str(REPO / "backend"))

#: The bench's own stack: ports and state folder apart from the dev and test stacks.
STACK_DIR = REPO / ".stack-bench"
STACK_ENV = {
    "STACK_DIR": str(STACK_DIR),
    "GATEWAY_PORT": "48080",
    "BACKEND_PORT": "48000",
    "FRONTEND_PORT": "48081",
    "DEV_IDP_PORT": "49000",
    "DB_PORT": "43307",
    "REDIS_PORT": "46379",
    "NOTES_PORT": "48200",
    "PUBLIC_URL": "http://localhost:48080",
    "APP_ENV": "development",
    # Rate limits out of the way: the bench measures the work, not the limiter
    # (the limiter still runs: one Redis round trip per auth request).
    "AUTH_RATE_LIMIT": "100000r/s",
    "AUTH_RATE_BURST": "100000",
    "RATELIMIT_LOGIN": "1000000 per minute",
    "RATELIMIT_REFRESH": "1000000 per minute",
    # Always the dev IdP and no allowlist, whatever .env says.
    "GOOGLE_CLIENT_ID": "",
    "GOOGLE_CLIENT_SECRET": "",
    "GOOGLE_CLIENT_SECRET_FILE": str(STACK_DIR / "no-google-client.json"),
    "ALLOWED_EMAILS": "",
    "ALLOWED_EMAIL_DOMAINS": "",
    "ADMIN_EMAILS": "",
    "LOG_LEVEL": "WARNING",
    # Plain HTTP only: TLS files in secrets/tls would put the bench gateway on 8443 too.
    "TLS_CERT_FILE": "",
    "TLS_KEY_FILE": "",
}
#: Inherited variables that would point the stack at something else.
STACK_ENV_DROP = ("DATABASE_URL", "SECRET_KEY", "JWT_PRIVATE_KEY_FILE", "DEV_IDP_URL", "RATELIMIT_STORAGE_URI",
                  "JWT_ISSUER", "JWT_AUDIENCE", "JWT_ALGORITHM", "STACK_URL")
GATEWAY = "http://127.0.0.1:48080"
SEED_ISSUER = "https://bench.authgw.invalid"

TARGETS = {
    "protected_throughput_ratio_min": 0.95,   # issue 12 (issue 6: 0.85)
    "protected_p99_ratio_max": 1.2,           # issue 12 (issue 6: 1.3)
    "refresh_per_second_min": 250.0,
    "verify_ratio_to_raw_max": 1.2,
    "backend_worker_rss_mb_max": 120.0,
    "scale_drift_max": 0.10,
}


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --- the stack ---------------------------------------------------------------

def stack_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV_DROP}
    env.update(STACK_ENV)
    return env


def stack(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "scripts" / "stack"), *args], cwd=REPO, env=stack_environ(),
                          check=check, text=True, capture_output=True, timeout=600)


def stack_settings() -> dict[str, str]:
    """The backend's environment as scripts/stack builds it (for in-process work)."""
    out = stack("env").stdout
    env = {}
    for line in out.splitlines():
        match = re.match(r"export (\w+)=(.*)$", line)
        if match:
            # printf %q quoting: only backslash escapes appear in these values.
            env[match.group(1)] = re.sub(r"\\(.)", r"\1", match.group(2))
    secrets_dir = STACK_DIR / "secrets"
    env.update({
        "APP_ENV": "development",
        "PUBLIC_URL": STACK_ENV["PUBLIC_URL"],
        "SECRET_KEY": (secrets_dir / "secret-key").read_text().strip(),
        "JWT_PRIVATE_KEY_FILE": str(secrets_dir / "jwt-signing-key.pem"),
        "DEV_IDP_URL": f"http://127.0.0.1:{STACK_ENV['DEV_IDP_PORT']}",
        "GOOGLE_CLIENT_SECRET_FILE": STACK_ENV["GOOGLE_CLIENT_SECRET_FILE"],
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_LOGIN": STACK_ENV["RATELIMIT_LOGIN"],
        "RATELIMIT_REFRESH": STACK_ENV["RATELIMIT_REFRESH"],
        "LOG_LEVEL": "WARNING",
    })
    return env


# --- machine -----------------------------------------------------------------

def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def machine_info() -> dict:
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    os_name = "unknown"
    if Path("/etc/os-release").exists():
        match = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.M)
        os_name = match.group(1) if match else os_name
    njs = _first_line(["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-http-js"])
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nginx": _first_line(["nginx", "-v"]),
        "njs": njs,
        "mariadb": _first_line(["mariadbd", "--version"]),
        "wrk": _first_line(["wrk", "-v"]),
        "gunicorn_workers": os.environ.get("GUNICORN_WORKERS", "default (usable cores + 1)"),
        "gunicorn_threads": os.environ.get("GUNICORN_THREADS", "default (4)"),
    }


# --- load generation -----------------------------------------------------------

CPU_SERVICES = ("gateway", "backend", "notes", "db", "redis", "idp")
#: pid file of each service whose CPU time is counted (bench/experiments/variants.py
#: points gateway and backend at its copies).
PIDFILES = {service: STACK_DIR / "run" / f"{service}.pid" for service in CPU_SERVICES}
_TICKS = os.sysconf("SC_CLK_TCK")


def service_pid(service: str) -> int | None:
    """The main pid of a service: its pid file when one is given or exists
    (bench/experiments/variants.py, --gateway-pidfile), else what
    ``scripts/stack pid`` says (supervisord keeps no pid files)."""
    try:
        return int(Path(PIDFILES[service]).read_text().strip())
    except (OSError, ValueError, KeyError):
        pass
    answer = stack("pid", service, check=False)
    return int(answer.stdout.strip()) if answer.returncode == 0 and answer.stdout.strip().isdigit() else None


def service_pids() -> dict[str, list[int]]:
    """Pids of each service of the bench stack, main process and descendants."""
    kids = _children()
    out = {}
    for service in CPU_SERVICES:
        pid = service_pid(service)
        if pid is None:
            continue
        pids, todo = [], [pid]
        while todo:
            current = todo.pop()
            pids.append(current)
            todo.extend(kids.get(current, []))
        out[service] = pids
    return out


def cpu_snapshot(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each service."""
    out = {}
    for service, plist in pids.items():
        total = 0
        for pid in plist:
            try:
                fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        out[service] = total / _TICKS
    return out


def wrk(url: str, script: str, duration: float, connections: int, threads: int, env: dict | None = None) -> dict:
    """Run wrk with one of bench/lua/*.lua; return its summary plus req/s and
    the CPU time each service of the stack spent per request (microseconds),
    which other load on the machine disturbs much less than throughput."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s",
           "-s", str(LUA_DIR / script), url]
    run_env = {**os.environ, "BENCH_THREADS": str(threads), **(env or {})}
    before = loadavg()
    pids = service_pids()
    cpu_before = cpu_snapshot(pids)
    out = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=duration + 60)
    cpu_after = cpu_snapshot(pids)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary (exit {out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    result = json.loads(line[len("BENCHJSON "):])
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds if seconds else 0.0
    result["p50_ms"] = result["latency_us"]["p50"] / 1000
    result["p99_ms"] = result["latency_us"]["p99"] / 1000
    result["mean_ms"] = result["latency_us"]["mean"] / 1000
    result["loadavg_before"] = before
    result["loadavg_after"] = loadavg()
    result["cpu_us_per_request"] = {
        service: round((cpu_after[service] - cpu_before[service]) / max(1, result["requests"]) * 1e6, 1)
        for service in cpu_before}
    return result


def get_run(base: str, path: str, tokens_file: Path | None, args) -> dict:
    env = {"BENCH_PATH": path, "BENCH_TOKENS": str(tokens_file) if tokens_file else ""}
    return wrk(base, "get.lua", args.duration, args.connections, args.threads, env)


def summarize(runs: list[dict]) -> dict:
    """Median over rounds of throughput and latency; every round kept."""
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "mean_ms": statistics.median(r["mean_ms"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "non_2xx": sum(r["errors"]["status"] for r in runs),
        "socket_errors": sum(r["errors"][k] for r in runs for k in ("connect", "read", "write", "timeout")),
        "cpu_us_per_request": {service: statistics.median(r["cpu_us_per_request"].get(service, 0.0) for r in runs)
                               for service in runs[0]["cpu_us_per_request"]},
        "rounds": runs,
    }


# --- database seeding -------------------------------------------------------------

def engine(settings: dict):
    import sqlalchemy as sa

    return sa.create_engine(settings["DATABASE_URL"], pool_pre_ping=True)


def reset_data(eng) -> None:
    """Empty the bench stack's accounts and sessions (its own database only)."""
    import sqlalchemy as sa

    with eng.begin() as conn:
        conn.execute(sa.text("SET FOREIGN_KEY_CHECKS=0"))
        for table in ("refresh_tokens", "sessions", "audit_events", "user_roles", "allowed_emails", "users"):
            conn.execute(sa.text(f"TRUNCATE TABLE {table}"))
        conn.execute(sa.text("SET FOREIGN_KEY_CHECKS=1"))


def count_rows(eng) -> dict:
    import sqlalchemy as sa

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with eng.connect() as conn:
        return {
            "users": conn.execute(sa.text("SELECT COUNT(*) FROM users")).scalar(),
            "live_sessions": conn.execute(sa.text(
                "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > :now"), {"now": now}).scalar(),
            "refresh_tokens": conn.execute(sa.text("SELECT COUNT(*) FROM refresh_tokens")).scalar(),
        }


def _chunks(rows: list, size: int):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def seed_users(eng, count: int, chunk: int = 5000) -> list[int]:
    """Insert ``count`` active users with the ``user`` role; return their ids."""
    import sqlalchemy as sa
    from authgw.models import Role, User, user_roles

    now = datetime.now(timezone.utc)
    with eng.begin() as conn:
        first = conn.execute(sa.select(sa.func.coalesce(sa.func.max(User.id), 0))).scalar() + 1
        role_id = conn.execute(sa.select(Role.id).where(Role.name == "user")).scalar_one()
        tag = secrets.token_hex(4)
        rows = [{"issuer": SEED_ISSUER, "subject": f"{tag}-{n}", "email": f"u{n}-{tag}@bench.example",
                 "name": f"Bench User {n}", "picture": None, "active": True, "created_at": now, "last_login_at": now}
                for n in range(first, first + count)]
        for part in _chunks(rows, chunk):
            conn.execute(sa.insert(User.__table__), part)
        ids = conn.execute(sa.select(User.id).where(User.issuer == SEED_ISSUER, User.subject.like(f"{tag}-%"))
                           .order_by(User.id)).scalars().all()
        for part in _chunks([{"user_id": uid, "role_id": role_id} for uid in ids], chunk):
            conn.execute(sa.insert(user_roles), part)
    return list(ids)


def seed_sessions(eng, user_ids: list[int], count: int, chunk: int = 5000) -> list[str]:
    """Open ``count`` live sessions (users taken round-robin), one unspent
    refresh token each; return the raw refresh tokens (never stored)."""
    import sqlalchemy as sa
    from authgw.models import RefreshToken, Session

    now = datetime.now(timezone.utc)
    expires = now + timedelta(days=30)
    sessions, tokens, raws = [], [], []
    for n in range(count):
        sid = secrets.token_urlsafe(24)
        raw = secrets.token_urlsafe(32)
        raws.append(raw)
        sessions.append({"id": sid, "user_id": user_ids[n % len(user_ids)], "created_at": now, "last_used_at": now,
                         "expires_at": expires, "revoked_at": None, "revoked_reason": None,
                         "user_agent": "authgw-bench", "ip": "127.0.0.1"})
        tokens.append({"session_id": sid, "token_hash": hashlib.sha256(raw.encode()).hexdigest(),
                       "created_at": now, "expires_at": expires, "spent_at": None})
    with eng.begin() as conn:
        for part in _chunks(sessions, chunk):
            conn.execute(sa.insert(Session.__table__), part)
        for part in _chunks(tokens, chunk):
            conn.execute(sa.insert(RefreshToken.__table__), part)
    return raws


def access_tokens_via_refresh(base: str, refresh_tokens: list[str]) -> list[str]:
    """Exchange refresh tokens for access tokens through the gateway (the real issuance path)."""
    import requests

    out = []
    with requests.Session() as http:
        for raw in refresh_tokens:
            answer = http.post(f"{base}/api/auth/refresh", json={"refresh_token": raw}, timeout=10)
            answer.raise_for_status()
            out.append(answer.json()["access_token"])
    return out


def mint_tokens(settings: dict, eng, count: int) -> list[str]:
    """``count`` distinct valid access tokens for live seeded sessions, signed
    in-process with the stack's own key (what /api/auth/refresh would
    return; minting thousands through the API would take minutes)."""
    import sqlalchemy as sa

    from authgw.keys import load_key_set
    from authgw.models import Session, User
    from authgw.tokens import issue_access_token

    key_set = load_key_set(Path(settings["JWT_PRIVATE_KEY_FILE"]), "ES256")
    with eng.connect() as conn:
        rows = conn.execute(sa.select(Session.id, User.id, User.email, User.name)
                            .join_from(Session, User, Session.user_id == User.id)
                            .where(Session.revoked_at.is_(None)).limit(256)).all()
    tokens = []
    for n in range(count):
        sid, uid, email, name = rows[n % len(rows)]
        token, _ = issue_access_token(key_set, issuer=settings["PUBLIC_URL"], audience="api", ttl=900,
                                      subject=str(uid), session_id=sid, email=email or "", name=name or "",
                                      roles=["user"], permissions=[])
        tokens.append(token)
    return tokens


def logout_token(base: str, token: str) -> None:
    """Revoke the session of ``token`` (POST /api/auth/logout with it)."""
    import requests

    answer = requests.post(f"{base}/api/auth/logout", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code != 204:
        raise RuntimeError(f"logout: {answer.status_code} {answer.text[:200]}")


def forge(tokens: list[str]) -> list[str]:
    """Tokens with a well-formed, known-kid header but another token's signature."""
    parts = [t.split(".") for t in tokens]
    return [f"{p[0]}.{p[1]}.{parts[(i + 1) % len(parts)][2]}" for i, p in enumerate(parts)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def expect_status(base: str, path: str, token: str | None, status: int) -> None:
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.get(f"{base}{path}", headers=headers, timeout=10)
    if answer.status_code != status:
        raise RuntimeError(f"GET {path}: expected {status}, got {answer.status_code} {answer.text[:200]}")


# --- sign-in -----------------------------------------------------------------------

def browser_sign_in(http, base: str, email: str, timeout: float = 10) -> tuple[list, str | None]:
    """A browser's sign-in through the gateway and the dev IdP: login, the
    IdP's answer, the callback (bench and soak).

    Args:
        http: a ``requests.Session`` (keeps the login-state cookie).
        base: the gateway's URL (``localhost``: the callback comes back to
            PUBLIC_URL's host).
        email: the dev IdP's ``login_hint``.
        timeout: seconds per request.

    Returns:
        (statuses, access_token): the status of each request made (the
        flow stops at the first unexpected one; ``"no access token"`` is
        appended when the callback's 303 carries none) and the access token
        of the callback's fragment, or None.

    Raises:
        requests.RequestException: a request failed.
        KeyError: a redirect came without a ``Location`` header.
    """
    start = http.get(f"{base}/api/auth/login", params={"login_hint": email, "next": "/"},
                     allow_redirects=False, timeout=timeout)
    statuses = [start.status_code]
    if start.status_code != 302:
        return statuses, None
    at_idp = http.get(start.headers["Location"], allow_redirects=False, timeout=timeout)
    statuses.append(at_idp.status_code)
    if at_idp.status_code not in (302, 303):
        return statuses, None
    callback = http.get(at_idp.headers["Location"], allow_redirects=False, timeout=timeout)
    statuses.append(callback.status_code)
    token = parse_qs(urlsplit(callback.headers.get("Location", "")).fragment).get("access_token", [None])[0]
    if token is None and callback.status_code == 303:
        statuses.append("no access token")  # 303 /login?error=...: a failed sign-in
    return statuses, token


def _signin_worker(base: str, deadline: float, emails: list[str], queue) -> None:
    import requests

    ok, failed, latencies = 0, 0, []
    n = 0
    while time.monotonic() < deadline:
        email = emails[n % len(emails)]
        n += 1
        started = time.monotonic()
        try:
            with requests.Session() as http:
                http.headers["User-Agent"] = "authgw-bench"
                statuses, token = browser_sign_in(http, base, email)
                if token and statuses[-1] == 303 and http.cookies.get("refresh_token"):
                    ok += 1
                    latencies.append(time.monotonic() - started)
                else:
                    failed += 1
        except (requests.RequestException, KeyError):  # KeyError: a redirect without Location
            failed += 1
    queue.put({"ok": ok, "failed": failed, "latencies": latencies})


def signin_run(base: str, duration: float, clients: int) -> dict:
    """Complete browser sign-ins per second with ``clients`` concurrent clients.

    Starts at ``localhost`` (not 127.0.0.1): the callback comes back to
    PUBLIC_URL's host, and the login-state cookie is scoped to that host.
    """
    base = base.replace("://127.0.0.1:", "://localhost:")
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    emails = [f"signin-{n}@bench.example" for n in range(256)]
    # One sign-in first: the backend fetches the provider's discovery document once.
    _signin_worker(base, time.monotonic() + 0.01, emails[:1], ctx.Queue())
    before = loadavg()
    pids = service_pids()
    cpu_before = cpu_snapshot(pids)
    started = time.monotonic()
    deadline = started + duration
    procs = [ctx.Process(target=_signin_worker, args=(base, deadline, emails[i::clients], queue))
             for i in range(clients)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=duration + 60) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    elapsed = time.monotonic() - started
    cpu_after = cpu_snapshot(pids)
    latencies = sorted(x for r in results for x in r["latencies"])
    ok = sum(r["ok"] for r in results)

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else 0.0

    return {"rps": ok / elapsed, "ok": ok, "failed": sum(r["failed"] for r in results), "clients": clients,
            "seconds": elapsed, "p50_ms": pct(50), "p99_ms": pct(99),
            "mean_ms": statistics.mean(latencies) * 1000 if latencies else 0.0,
            "loadavg_before": before, "loadavg_after": loadavg(),
            "cpu_us_per_request": {k: round((cpu_after[k] - cpu_before[k]) / max(1, ok) * 1e6, 1) for k in cpu_before}}


# --- in-process verification ------------------------------------------------------------

def verify_bench(settings: dict, token: str, number: int = 2000, repeat: int = 7) -> dict:
    """Microseconds per token: raw PyJWT vs decode_access_token vs the request check."""
    import jwt
    from flask import g

    from authgw import create_app
    from authgw.bearer import verify_token_in_request
    from authgw.extension import AuthGW
    from authgw.tokens import decode_access_token
    from authgw_kit import TokenVerifier

    app = create_app(settings)
    state = AuthGW.of(app)
    key_set, conf = state.key_set, state.settings
    kid = jwt.get_unverified_header(token)["kid"]
    public_key = key_set.keys[kid].public_key
    issuer, audience = conf.jwt_issuer, conf.jwt_audience
    cached = state.verifier
    # The same checks with no cache: every call is a token seen for the first time.
    uncached = TokenVerifier(issuer=cached.issuer, audience=cached.audience, keys=cached.keys,
                             revocations=cached.revocations, algorithms=key_set.algorithms,
                             leeway=cached.leeway, cache_size=0)

    def raw():
        jwt.decode(token, public_key, algorithms=["ES256"], audience=audience, issuer=issuer)

    def ours():
        decode_access_token(token, key_set, issuer=issuer, audience=audience)

    with app.test_request_context("/api/ping", headers={"Authorization": f"Bearer {token}"}):

        def request_check_cached():
            g.pop("token_claims", None)
            verify_token_in_request()

        def request_check_first_sight():
            g.pop("token_claims", None)
            state.verifier = uncached
            try:
                verify_token_in_request()
            finally:
                state.verifier = cached

        funcs = {"pyjwt_raw": raw, "decode_access_token": ours, "request_check_cached": request_check_cached,
                 "request_check_first_sight": request_check_first_sight}
        for f in funcs.values():  # warm up (and the revocation feed's first read)
            for _ in range(50):
                f()
        best = {name: float("inf") for name in funcs}
        for _ in range(repeat):  # interleaved, best of `repeat`
            for name, f in funcs.items():
                n = number * 10 if name == "request_check_cached" else number
                best[name] = min(best[name], timeit.timeit(f, number=n) / n)
    result = {name: round(seconds * 1e6, 2) for name, seconds in best.items()}
    result["ratio_decode_to_raw"] = result["decode_access_token"] / result["pyjwt_raw"]
    result["ratio_request_check_cached_to_raw"] = result["request_check_cached"] / result["pyjwt_raw"]
    result["method"] = f"best of {repeat} x {number} calls, interleaved, one process"
    return result


# --- memory ------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _proc_info(pid: int) -> dict | None:
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
        cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    rss = re.search(r"VmRSS:\s+(\d+)", status)
    return {"pid": pid, "rss_mb": round(int(rss.group(1)) / 1024, 1) if rss else 0.0, "cmd": cmd[:100]}


def memory_report() -> dict:
    kids = _children()
    report = {}
    for service in ("gateway", "backend", "notes", "db", "redis", "idp", "frontend"):
        pid = service_pid(service)
        if pid is None:
            continue
        main = _proc_info(pid)
        if main is None:
            continue
        procs, todo = [], list(kids.get(pid, []))
        while todo:
            child = todo.pop()
            info = _proc_info(child)
            if info:
                procs.append(info)
            todo.extend(kids.get(child, []))
        report[service] = {"main": main, "children": procs,
                           "total_rss_mb": round(main["rss_mb"] + sum(p["rss_mb"] for p in procs), 1)}
    return report


# --- output ------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_report(result: dict) -> None:
    m = result["machine"]
    out = []
    out.append("")
    out.append(f"authgw benchmark  {result['started_at']}  ({result['seconds']:.0f} s)")
    out.append(f"machine: {m['cpu_model']}, {m['cpus']} cpus ({m['cpus_usable']} usable), {m['memory_gb']} GB, "
               f"{m['os']}, kernel {m['kernel']}")
    out.append(f"software: {m['nginx']}, njs {m['njs']}, {m['mariadb']}, Python {m['python']}, {m['wrk']}")
    out.append(f"load: wrk -t{result['args']['threads']} -c{result['args']['connections']} "
               f"-d{result['args']['duration']}s on 127.0.0.1, {result['args']['rounds']} interleaved rounds, median; "
               f"load average at start {result['loadavg_start']}, at end {result['loadavg_end']}")
    out.append("")
    header = f"{'phase':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x base':>8}{'p99 x':>7}{'non-2xx':>9}  note"
    out.append(header)
    out.append("-" * len(header))
    notes_after = ["req/s and ms: medians of the interleaved rounds; x base / p99 x: ratio of those medians "
                   "(refresh: req/s over the baseline runs paired with it)."]

    def row(name, r, base, note=""):
        ratio = f"{r['rps'] / base['rps']:.2f}" if base else ""
        p99r = f"{r['p99_ms'] / base['p99_ms']:.2f}" if base else ""
        bad = r.get("non_2xx", r.get("failed", 0))
        out.append(f"{name:<34}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{ratio:>8}{p99r:>7}{bad:>9}  {note}")

    p = result["phases"]
    base = p.get("baseline")
    if base:
        row("1 baseline  GET /api/public/ping", base, base)
    if "protected" in p:
        row("2 protected GET /api/ping", p["protected"], base, "valid tokens")
    if "protected_cold" in p:
        row("2c protected, cold gateway cache", p["protected_cold"], base,
            f"{result['args']['cold_tokens']} tokens: every check asks the backend (information)")
    if "invalid" in p:
        row("3 invalid   GET /api/ping -> 401", p["invalid"], base, "forged tokens; 401 expected")
    if "refresh" in p:
        row("4 refresh   POST /api/auth/refresh", p["refresh"], base, "rotation, MariaDB")
    if "signin" in p:
        row("5 sign-in   login/IdP/callback", p["signin"], base,
            f"flows/s, {p['signin']['clients']} clients, {p['signin']['failed']} failed")
    scale = result.get("scale")
    if scale:
        rows = scale["rows"]
        out.append(f"--- with {rows['users']} users, {rows['live_sessions']} live sessions, "
                   f"{rows['refresh_tokens']} refresh tokens")
        sb = scale["phases"].get("baseline")
        if sb:
            row("1 baseline  (scale)", sb, sb)
        if "protected" in scale["phases"]:
            row("2 protected (scale)", scale["phases"]["protected"], sb)
        if "refresh" in scale["phases"]:
            row("4 refresh   (scale)", scale["phases"]["refresh"], sb)
    out.extend(notes_after)
    cpu_rows = [(name, r) for name, r in (
        ("1 baseline", p.get("baseline")), ("2 protected", p.get("protected")),
        ("2c protected, cold", p.get("protected_cold")), ("3 invalid", p.get("invalid")),
        ("4 refresh", p.get("refresh")), ("5 sign-in (per flow)", p.get("signin")),
        ("1 baseline (scale)", (scale or {}).get("phases", {}).get("baseline")),
        ("2 protected (scale)", (scale or {}).get("phases", {}).get("protected")),
        ("4 refresh (scale)", (scale or {}).get("phases", {}).get("refresh"))) if r and r.get("cpu_us_per_request")]
    if cpu_rows:
        out.append("")
        out.append("CPU time per request, microseconds (from /proc, all processes of each service; "
                   "steadier than req/s on a shared machine):")
        out.append(f"  {'phase':<24}" + "".join(f"{svc:>10}" for svc in CPU_SERVICES) + f"{'total':>10}")
        for name, r in cpu_rows:
            cpu = r["cpu_us_per_request"]
            out.append(f"  {name:<24}" + "".join(f"{cpu.get(svc, 0.0):>10.0f}" for svc in CPU_SERVICES)
                       + f"{sum(cpu.values()):>10.0f}")
        if p.get("baseline") and p.get("protected"):
            b_cpu, p_cpu = p["baseline"]["cpu_us_per_request"], p["protected"]["cpu_us_per_request"]
            extra = {svc: p_cpu.get(svc, 0.0) - b_cpu.get(svc, 0.0) for svc in ("gateway", "backend")}
            own = result.get("verify", {}).get("request_check_cached")
            out.append(f"  protected - baseline: gateway {extra['gateway']:+.0f} us, backend {extra['backend']:+.0f} us "
                       f"per request" + (f" (the backend's own check of a known token: {own:.1f} us in process, "
                                         "section 6; the rest is its reading of the Authorization and X-Auth-* "
                                         "headers and the route's work)" if own else ""))
    v = result.get("verify")
    if v:
        out.append("")
        out.append(f"6 token verification in-process ({v['method']}):")
        out.append(f"  PyJWT jwt.decode (raw, key loaded once)    {v['pyjwt_raw']:8.1f} us")
        out.append(f"  authgw.tokens.decode_access_token          {v['decode_access_token']:8.1f} us  "
                   f"({v['ratio_decode_to_raw']:.2f} x raw)")
        out.append(f"  request check, token seen before (cache)   {v['request_check_cached']:8.1f} us  "
                   f"({v['ratio_request_check_cached_to_raw']:.2f} x raw)")
        out.append(f"  request check, first sight of a token      {v['request_check_first_sight']:8.1f} us")
    mem = result.get("memory")
    if mem:
        out.append("")
        out.append("7 memory (RSS after the run):")
        for service, info in mem.items():
            kids = ", ".join(f"{c['rss_mb']:.0f}" for c in info["children"])
            out.append(f"  {service:<9} main {info['main']['rss_mb']:6.1f} MB"
                       + (f"; children {kids} MB" if kids else "") + f"; total {info['total_rss_mb']:.0f} MB")
    purge = result.get("purge")
    if purge:
        out.append("")
        out.append(f"purge (flask purge --retention 0 equivalent): {purge['deleted']} in {purge['seconds']:.1f} s; "
                   f"after: {purge['rows_after']}")
    out.extend(figures.report_lines(result))
    out.append("")
    out.append("targets:")
    for check in result["checks"]:
        out.append(f"  {check['verdict']}  {check['name']}: {check['measured']}")
    out.append("")
    out.append(f"JSON: {result.get('json_path', '-')}")
    print("\n".join(out), flush=True)


def evaluate(result: dict) -> list[dict]:
    checks = []
    p = result["phases"]

    def add(name, ok, measured):
        checks.append({"name": name, "verdict": verdict(ok), "measured": measured})

    base, prot = p.get("baseline"), p.get("protected")
    if base and prot:
        ratio = prot["rps"] / base["rps"]
        add(f"protected throughput >= {TARGETS['protected_throughput_ratio_min']} x baseline", ratio >= TARGETS["protected_throughput_ratio_min"],
            f"{prot['rps']:.0f} / {base['rps']:.0f} req/s = {ratio:.2f} "
            f"(median of paired ratios {prot.get('paired_rps_ratio', ratio):.2f})")
        p99 = prot["p99_ms"] / base["p99_ms"]
        add(f"protected p99 <= {TARGETS['protected_p99_ratio_max']} x baseline p99", p99 <= TARGETS["protected_p99_ratio_max"],
            f"{prot['p99_ms']:.2f} / {base['p99_ms']:.2f} ms = {p99:.2f} "
            f"(median of paired ratios {prot.get('paired_p99_ratio', p99):.2f})")
        add("no unexpected status (baseline, protected 200)", base["non_2xx"] == 0 and prot["non_2xx"] == 0
            and base["socket_errors"] == 0 and prot["socket_errors"] == 0,
            f"non-2xx {base['non_2xx']} + {prot['non_2xx']}, socket errors {base['socket_errors']} + {prot['socket_errors']}")
    if "invalid" in p:
        inv = p["invalid"]
        add("invalid tokens all refused (401)", inv["non_2xx"] == inv["requests"],
            f"{inv['non_2xx']} of {inv['requests']} refused")
    if "refresh" in p:
        ref = p["refresh"]
        add("refresh >= 250 per second", ref["rps"] >= TARGETS["refresh_per_second_min"] and ref["non_2xx"] == 0,
            f"{ref['rps']:.0f}/s, {ref['non_2xx']} non-200")
    if "verify" in result:
        v = result["verify"]
        add("in-process verification <= 1.2 x raw PyJWT", v["ratio_decode_to_raw"] <= TARGETS["verify_ratio_to_raw_max"]
            and v["ratio_request_check_cached_to_raw"] <= TARGETS["verify_ratio_to_raw_max"],
            f"decode_access_token {v['ratio_decode_to_raw']:.2f} x, request check {v['ratio_request_check_cached_to_raw']:.2f} x")
    if "memory" in result and "backend" in result["memory"]:
        workers = result["memory"]["backend"]["children"]
        worst = max((w["rss_mb"] for w in workers), default=0.0)
        add("backend worker RSS <= 120 MB", 0 < worst <= TARGETS["backend_worker_rss_mb_max"],
            f"max {worst:.1f} MB over {len(workers)} workers")
    if "signin" in p:
        s = p["signin"]
        add("sign-in flows complete", s["ok"] > 0 and s["failed"] == 0, f"{s['rps']:.1f}/s, {s['failed']} failed")
    scale = result.get("scale")
    if scale:
        sp = scale["phases"]
        for name in ("protected", "refresh"):
            if name in sp and name in p and "baseline" in sp and base:
                # Throughput relative to a baseline measured alongside (the
                # machine's load moves between the two phases); "hold" = lose
                # at most 10%, being faster at scale is noise, not a failure.
                small = p[name].get("paired_rps_ratio", p[name]["rps"] / base["rps"])
                large = sp[name].get("paired_rps_ratio", sp[name]["rps"] / sp["baseline"]["rps"])
                drift = large / small - 1
                raw_drift = sp[name]["rps"] / p[name]["rps"] - 1
                cpu_small = sum(p[name].get("cpu_us_per_request", {}).values())
                cpu_large = sum(sp[name].get("cpu_us_per_request", {}).values())
                cpu = f", CPU per request {cpu_small:.0f} -> {cpu_large:.0f} us" if cpu_small and cpu_large else ""
                add(f"{name} holds within 10% at {scale['rows']['live_sessions']} sessions",
                    drift >= -TARGETS["scale_drift_max"] and sp[name]["non_2xx"] == 0,
                    f"{drift:+.1%} relative to baseline (raw {p[name]['rps']:.0f} -> {sp[name]['rps']:.0f} req/s, "
                    f"{raw_drift:+.1%}{cpu})")
    figures.evaluate(result, add)
    return checks


# --- main --------------------------------------------------------------------------

def ab_rounds(args, tokens_file: Path, forged_file: Path | None, phases: dict, prefix: str = "",
              cold_file: Path | None = None) -> None:
    """Baseline / protected (/ invalid / cold) interleaved, ``args.rounds`` times."""
    runs = {"baseline": [], "protected": [], "invalid": [], "protected_cold": []}
    for rnd in range(args.rounds):
        runs["baseline"].append(get_run(args.url, "/api/public/ping", None, args))
        runs["protected"].append(get_run(args.url, "/api/ping", tokens_file, args))
        if forged_file is not None:
            runs["invalid"].append(get_run(args.url, "/api/ping", forged_file, args))
        if cold_file is not None:
            runs["protected_cold"].append(get_run(args.url, "/api/ping", cold_file, args))
        b, pr = runs["baseline"][-1], runs["protected"][-1]
        log(f"{prefix}round {rnd + 1}/{args.rounds}: baseline {b['rps']:.0f}/s p99 {b['p99_ms']:.1f} ms, "
            f"protected {pr['rps']:.0f}/s p99 {pr['p99_ms']:.1f} ms"
            + (f", invalid {runs['invalid'][-1]['rps']:.0f}/s" if forged_file is not None else "")
            + (f", cold {runs['protected_cold'][-1]['rps']:.0f}/s" if cold_file is not None else "")
            + f" (load {loadavg()[0]:.2f})")
    for name, rs in runs.items():
        if rs:
            phases[name] = summarize(rs)
    add_paired_ratios(phases)


def add_paired_ratios(phases: dict) -> None:
    """Paired ratios: each run against the baseline run just before it, so
    slow drifts of the machine's load cancel out; their median is the figure
    the targets are checked on."""
    if "baseline" not in phases:
        return
    for name in ("protected", "invalid", "protected_cold"):
        if name in phases:
            pairs = list(zip(phases["baseline"]["rounds"], phases[name]["rounds"]))
            phases[name]["paired_rps_ratio"] = statistics.median(r["rps"] / b["rps"] for b, r in pairs)
            phases[name]["paired_p99_ratio"] = statistics.median(r["p99_ms"] / b["p99_ms"] for b, r in pairs)


#: Sessions (refresh token chains) per refresh run: more than wrk's connections.
REFRESH_CHAINS = 160


def refresh_phase(args, tokens: list[str], workdir: Path, name: str) -> dict:
    """Refresh runs, each right after a baseline run (paired, like the A/B rounds).

    Every run starts from its own seeded sessions: a token spent by an
    earlier run would be presented again after the grace window, which is
    reuse and revokes its session (as it must)."""
    runs, bases = [], []
    for rnd in range(args.refresh_rounds):
        path = write_lines(workdir / f"{name}-{rnd}.txt", tokens[rnd * REFRESH_CHAINS:(rnd + 1) * REFRESH_CHAINS])
        bases.append(get_run(args.url, "/api/public/ping", None, args))
        runs.append(wrk(args.url, "refresh.lua", args.duration, args.connections, args.threads,
                        {"BENCH_TOKENS": str(path)}))
    summary = summarize(runs)
    summary["starved"] = sum(r["starved"] for r in runs)
    summary["paired_baselines"] = bases
    summary["paired_rps_ratio"] = statistics.median(r["rps"] / b["rps"] for b, r in zip(bases, runs))
    log(f"refresh ({name}): {summary['rps']:.0f}/s p99 {summary['p99_ms']:.1f} ms, non-200 {summary['non_2xx']}")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running afterwards")
    parser.add_argument("--duration", type=float, default=4, help="seconds per load run (default 4)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved baseline/protected rounds (default 5)")
    parser.add_argument("--refresh-rounds", type=int, default=2, help="refresh runs per phase (default 2)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--signin-clients", type=int, default=8)
    parser.add_argument("--cold-tokens", type=int, default=8192,
                        help="distinct tokens of the cold phase (more than the gateway sees in a cache lifetime)")
    parser.add_argument("--users", type=int, default=100_000, help="users for the scale phase")
    parser.add_argument("--sessions", type=int, default=100_000, help="live sessions for the scale phase")
    parser.add_argument("--cold-rounds", type=int, default=3, help="cold-token rounds of the gateway-only phase")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: "
                        "invalid,cold,refresh,signin,verify,gateway,split,notes,outage,scale,purge")
    parser.add_argument("--url", default=GATEWAY, help="gateway to load (default the bench stack's); another "
                        "gateway in front of the same backend can be measured with the same data")
    parser.add_argument("--no-stack", action="store_true", help="do not run scripts/stack up/down "
                        "(the bench stack must be running)")
    parser.add_argument("--json", default=None, help="write the JSON here instead of bench/results/<timestamp>.json")
    parser.add_argument("--gateway-pidfile", default=None, help="with --url: pid file of that gateway (CPU, memory)")
    parser.add_argument("--backend-pidfile", default=None, help="pid file of the backend behind --url")
    parser.add_argument("--report", default=None, metavar="JSON", help="print the table of an earlier run and exit")
    args = parser.parse_args()
    if args.report:
        result = json.loads(Path(args.report).read_text())
        for phases in (result["phases"], result.get("scale", {}).get("phases", {})):
            add_paired_ratios(phases)
        result["checks"] = evaluate(result)
        print_report(result)
        return 0 if all(c["verdict"] == "PASS" for c in result["checks"]) else 1
    if args.gateway_pidfile:
        PIDFILES["gateway"] = Path(args.gateway_pidfile)
    if args.backend_pidfile:
        PIDFILES["backend"] = Path(args.backend_pidfile)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if not shutil.which("wrk"):
        log("wrk not found: run scripts/install (Debian package wrk)")
        return 2
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        log("refusing to load anything but 127.0.0.1")
        return 2

    started = time.monotonic()
    result = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "args": vars(args),
              "machine": machine_info(), "loadavg_start": loadavg(), "targets": TARGETS, "phases": {}}
    workdir = Path(tempfile.mkdtemp(prefix="authgw-bench-"))
    brought_up = False
    try:
        if not args.no_stack:
            log("scripts/stack up (bench stack: gateway :48080, state .stack-bench/)")
            up = stack("up", check=False)
            if up.returncode != 0:
                log(up.stderr[-3000:])
                return 1
            brought_up = True
        conf = STACK_DIR / "nginx" / "gateway.conf"
        if conf.exists():
            result["gateway_conf_sha256"] = hashlib.sha256(conf.read_bytes()).hexdigest()
        settings = stack_settings()
        eng = engine(settings)
        reset_data(eng)

        # Small database: a few users, the sessions the load needs.
        n_sessions = 32 + REFRESH_CHAINS * args.refresh_rounds
        log(f"seeding: 100 users, {n_sessions} sessions")
        user_ids = seed_users(eng, 100)
        raws = seed_sessions(eng, user_ids, n_sessions)
        access = access_tokens_via_refresh(args.url, raws[:32])
        forged = forge(access)
        tokens_file = write_lines(workdir / "access.txt", access)
        forged_file = None if "invalid" in skip else write_lines(workdir / "forged.txt", forged)
        cold_file = None
        if "cold" not in skip:
            cold = mint_tokens(settings, eng, args.cold_tokens)
            expect_status(args.url, "/api/ping", cold[-1], 200)
            cold_file = write_lines(workdir / "cold.txt", cold)
        expect_status(args.url, "/api/public/ping", None, 200)
        expect_status(args.url, "/api/ping", access[0], 200)
        expect_status(args.url, "/api/ping", forged[0], 401)
        result["rows_small"] = count_rows(eng)

        log("warm-up")
        warm = argparse.Namespace(**{**vars(args), "duration": 2})
        get_run(args.url, "/api/public/ping", None, warm)
        get_run(args.url, "/api/ping", tokens_file, warm)

        phases = result["phases"]
        ab_rounds(args, tokens_file, forged_file, phases, cold_file=cold_file)
        if "refresh" not in skip:
            phases["refresh"] = refresh_phase(args, raws[32:], workdir, "refresh-small")
        if "signin" not in skip:
            phases["signin"] = signin_run(args.url, args.duration, args.signin_clients)
            log(f"sign-in: {phases['signin']['rps']:.1f} flows/s, {phases['signin']['failed']} failed")
        if "verify" not in skip:
            result["verify"] = verify_bench(settings, access[0])
            log(f"verify: raw {result['verify']['pyjwt_raw']} us, ours {result['verify']['decode_access_token']} us")
        if "gateway" not in skip:
            figures.install_locations()
            result["gateway_only"] = figures.gateway_phase(
                args, tokens_file, figures.fast_minter(settings, mint_tokens(settings, eng, 1)[0]), workdir)
        if "split" not in skip:
            result["backend_split"] = figures.backend_split_phase(args, tokens_file)
        if "notes" not in skip:
            result["notes"] = figures.notes_phase(settings, access[0])
            result["kit_verify"] = figures.kit_verify_phase()
        if "outage" not in skip:
            # A session revoked before the stop: logged out, then 2 s for every feed to hear of it.
            revoked = access_tokens_via_refresh(args.url, seed_sessions(eng, user_ids, 1))[0]
            expect_status(args.url, "/api/notes", revoked, 200)
            logout_token(args.url, revoked)
            time.sleep(2.0)
            result["outage"] = figures.outage_phase(args, tokens_file, revoked)

        if "scale" not in skip:
            rows = count_rows(eng)
            more_users = max(0, args.users - rows["users"])
            more_sessions = max(0, args.sessions - rows["live_sessions"])
            log(f"seeding: {more_users} users, {more_sessions} sessions")
            t0 = time.monotonic()
            big_ids = seed_users(eng, more_users) if more_users else user_ids
            big_raws = seed_sessions(eng, big_ids, more_sessions) if more_sessions else []
            seed_seconds = time.monotonic() - t0
            sample = random.sample(big_raws, min(len(big_raws), n_sessions)) if big_raws else raws
            scale = {"rows": count_rows(eng), "seed_seconds": round(seed_seconds, 1), "phases": {}}
            log(f"seeded in {seed_seconds:.1f} s: {scale['rows']}")
            big_access = access_tokens_via_refresh(args.url, sample[:32])
            big_tokens_file = write_lines(workdir / "access-scale.txt", big_access)
            ab_rounds(args, big_tokens_file, None, scale["phases"], prefix="scale ")
            if "refresh" not in skip:
                scale["phases"]["refresh"] = refresh_phase(args, sample[32:], workdir, "refresh-scale")
            result["scale"] = scale

        result["memory"] = memory_report()

        if "purge" not in skip:
            from authgw import create_app
            from authgw.sessions import purge_expired

            app = create_app(settings)
            with app.app_context():
                t0 = time.monotonic()
                deleted = purge_expired(retention=0)
                result["purge"] = {"deleted": deleted, "seconds": time.monotonic() - t0, "rows_after": count_rows(eng)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if brought_up and not args.keep:
            log("scripts/stack down")
            stack("down", check=False)
            figures.remove_locations()

    result["loadavg_end"] = loadavg()
    result["seconds"] = time.monotonic() - started
    result["checks"] = evaluate(result)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(args.json) if args.json else RESULTS_DIR / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    result["json_path"] = str(path)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_report(result)
    return 0 if all(c["verdict"] == "PASS" for c in result["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
