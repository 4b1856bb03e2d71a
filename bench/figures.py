"""The figures of issues 11 and 12 (docs/performance.md "Gateway, kit and notes"), run by bench/bench.py.

- ``gateway``  gateway-only cost: the same static upstream behind two
  locations of the bench stack's own gateway, one with the Lua token check
  and one without, the same ``Authorization`` header on both; hot tokens
  (32, round-robin), interleaved rounds; then cold tokens (every request a
  token never sent before): gateway CPU per new token next to one OpenSSL
  ES256 verify (``openssl speed -seconds 2 ecdsap256``) on the same machine.
- ``notes``    GET /api/notes in-process (the notes app, the bench stack's
  database): the kit's check (hot cache, cold) next to the same view with
  the check replaced by the already verified token; plus kit/bench_verify.py
  (the kit's verify next to raw PyJWT).
- ``outage``   the backend SIGSTOPped (scripts/stack freeze, always thawed):
  notes through the gateway keeps answering valid tokens at its normal
  latency, a token revoked before the stop stays refused (gateway and notes).

The two bench locations exist only in the bench stack: ``server-bench.conf``
and ``http-bench.conf`` are written into its gateway's include folder
(``.stack-bench/nginx/gateway.d``, which scripts/render-gateway leaves
alone), the gateway reloads, and they are deleted once the bench stack is
down (with ``--keep`` or ``--no-stack`` they stay in that stack). No
product configuration has them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import bench

REPO = Path(__file__).resolve().parents[1]

#: The static upstream: a `return 200` location of the same gateway server,
#: reached through its own listener (no port of its own: a new listening
#: port inside the ephemeral range can be taken by an outgoing connection).
STATIC = "/api/_bench/static"
PROTECTED, OPEN = "/api/_bench/protected", "/api/_bench/open"
#: The protected location checks the route of the gateway's own /api/
#: locations ("backend": identity headers, no permission), by name as
#: deployed. Information only, to split the check's cost: Lua in the access
#: phase doing nothing, and the check without the identity variables and
#: headers (a route table made per request: the bench cannot add a route).
EMPTY_LUA, NO_IDENTITY = "/api/_bench/empty-lua", "/api/_bench/no-identity"
#: nginx/lua/tests/bench.lua inside a worker of this gateway: the check's own
#: CPU per call, no HTTP around it (docs/gateway-lua.md "Numbers").
LUA_COSTS = "/api/_bench/lua-costs"

SERVER_SNIPPET = f"""# bench/figures.py only (bench stack): the gateway-only cost, one static upstream
location = {STATIC} {{
    access_log off;
    default_type text/plain;
    return 200 "ok\\n";
}}
location = {PROTECTED} {{
    access_by_lua_block {{ require("authgw.gateway").check("backend") }}
    proxy_pass http://bench_static{STATIC};
}}
location = {OPEN} {{
    proxy_pass http://bench_static{STATIC};
}}
location = {EMPTY_LUA} {{
    access_by_lua_block {{ return }}
    proxy_pass http://bench_static{STATIC};
}}
location = {NO_IDENTITY} {{
    access_by_lua_block {{ require("authgw.gateway").check({{identity = false}}) }}
    proxy_pass http://bench_static{STATIC};
}}
location = {LUA_COSTS} {{
    client_max_body_size 4m;
    client_body_buffer_size 4m;
    content_by_lua_block {{ assert(loadfile("{REPO}/nginx/lua/tests/bench.lua"))() }}
}}
"""
HTTP_SNIPPET = """# bench/figures.py only (bench stack): the static upstream of /api/_bench/*
upstream bench_static {
    server 127.0.0.1:{port};
    keepalive 64;
    keepalive_requests 100000;
}
"""

TARGETS = {
    "gateway_hot_throughput_ratio_min": 0.97,
    "gateway_hot_p99_ratio_max": 1.1,
    "gateway_cold_over_openssl_max": 1.25,
    "kit_verify_over_pyjwt_max": 1.1,
    "outage_p99_ratio_max": 1.5,
}


# --- the bench locations -------------------------------------------------------------

def include_dir() -> Path:
    return bench.STACK_DIR / "nginx" / "gateway.d"


def reload_gateway() -> None:
    pid = int(bench.stack("pid", "gateway").stdout.strip())
    subprocess.run(["kill", "-HUP", str(pid)], check=True)


def install_locations() -> None:
    """Write the bench locations and their static upstream, reload the
    gateway (unless they are there already), and wait until they answer."""
    import requests

    folder = include_dir()
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {"server-bench.conf": SERVER_SNIPPET,
              "http-bench.conf": HTTP_SNIPPET.replace("{port}", bench.STACK_ENV["GATEWAY_PORT"])}
    changed = False
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed = True
    if changed:
        reload_gateway()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(bench.GATEWAY + OPEN, timeout=2).status_code == 200:
                if changed:
                    time.sleep(1.5)  # the new workers poll keys and feed first
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("the bench locations did not answer after the gateway reload (see "
                       f"{bench.STACK_DIR / 'log' / 'gateway-error.log'})")


def remove_locations() -> None:
    """Delete the snippets once the bench stack is down (no reload: a reload
    that drops the static server and one that adds it again within a minute
    collide on its port while the old workers finish their keepalive
    connections). With --keep or --no-stack they stay, in the bench stack only."""
    for name in ("server-bench.conf", "http-bench.conf"):
        (include_dir() / name).unlink(missing_ok=True)


# --- gateway only ------------------------------------------------------------------------

def openssl_verify_us() -> dict:
    """One ES256 (P-256) verify, microseconds, from ``openssl speed -seconds 2 ecdsap256``."""
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "ecdsap256"], capture_output=True, text=True,
                         timeout=60).stdout
    line = [ln for ln in out.splitlines() if "nistp256" in ln and "ecdsa" in ln][-1]
    verify_per_s = float(line.split()[-1])
    return {"verify_us": round(1e6 / verify_per_s, 2), "line": " ".join(line.split())}


def fast_minter(settings: dict, template: str):
    """A function n -> n distinct tokens like ``template`` (one the backend's
    code issued: same header, same claims), each with its own ``jti`` and
    ``sid``, signed ES256 with the stack's key (PyJWT's ES256 algorithm,
    which gives the JOSE r || s form). About 10 x faster than
    ``issue_access_token``, so that tens of thousands of cold tokens take
    seconds, not minutes."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import ECAlgorithm
    from jwt.utils import base64url_encode

    key = serialization.load_pem_private_key(Path(settings["JWT_PRIVATE_KEY_FILE"]).read_bytes(), None)
    header_b64 = template.split(".")[0]
    claims = jwt.decode(template, options={"verify_signature": False})
    es256 = ECAlgorithm(ECAlgorithm.SHA256)

    def mint(n: int) -> list[str]:
        out = []
        now = int(time.time())
        for _ in range(n):
            body = {**claims, "iat": now, "exp": now + 900, "jti": os.urandom(12).hex(), "sid": os.urandom(18).hex()}
            signing_input = f"{header_b64}.{base64url_encode(json.dumps(body, separators=(',', ':')).encode()).decode()}"
            out.append(f"{signing_input}.{base64url_encode(es256.sign(signing_input.encode(), key)).decode()}")
        return out

    return mint


def gateway_phase(args, tokens_file: Path, mint_cold, workdir: Path) -> dict:
    """Hot and cold rounds, interleaved, against the two bench locations.

    Args:
        args: bench options (duration, rounds, connections, threads).
        tokens_file: the 32 hot tokens, one per line.
        mint_cold: callable(n) -> list of n distinct valid tokens.
        workdir: folder for the cold token files.
    """
    hot = {"open": [], "protected": [], "empty_lua": [], "no_identity": []}
    paths = {"open": OPEN, "protected": PROTECTED, "empty_lua": EMPTY_LUA, "no_identity": NO_IDENTITY}
    for rnd in range(args.rounds):
        for name, path in paths.items():
            hot[name].append(bench.get_run(bench.GATEWAY, path, tokens_file, args))
        o, p = hot["open"][-1], hot["protected"][-1]
        bench.log(f"gateway-only hot {rnd + 1}/{args.rounds}: open {o['rps']:.0f}/s p99 {o['p99_ms']:.2f} ms, "
                  f"protected {p['rps']:.0f}/s p99 {p['p99_ms']:.2f} ms (load {bench.loadavg()[0]:.2f})")
    result = {name: bench.summarize(runs) for name, runs in hot.items()}
    pairs = list(zip(hot["open"], hot["protected"]))
    result["paired_rps_ratio"] = statistics.median(p["rps"] / o["rps"] for o, p in pairs)
    result["paired_p99_ratio"] = statistics.median(p["p99_ms"] / o["p99_ms"] for o, p in pairs)
    for name in ("empty_lua", "no_identity"):
        result[f"paired_ratio_{name}"] = statistics.median(
            r["rps"] / o["rps"] for o, r in zip(hot["open"], hot[name]))

    # Cold: every request a new token; the same tokens to the open location
    # (same header sizes), so the gateway CPU difference is the check's.
    cold_seconds = max(2, round(args.duration * 0.75))
    # More tokens than the check can take in a run (~100 us of CPU each, two
    # workers); the open location gets the same file (it checks nothing, so
    # a token it sees twice changes nothing).
    per_run = 40000 * cold_seconds
    cold = {"open": [], "protected": []}
    for rnd in range(args.cold_rounds):
        f = bench.write_lines(workdir / f"cold-{rnd}.txt", mint_cold(per_run))
        for name, path in (("protected", PROTECTED), ("open", OPEN)):
            cold[name].append(bench.wrk(bench.GATEWAY, "cold.lua", cold_seconds, args.connections, args.threads,
                                        {"BENCH_PATH": path, "BENCH_TOKENS": str(f)}))
        o, p = cold["open"][-1], cold["protected"][-1]
        bench.log(f"gateway-only cold {rnd + 1}/{args.cold_rounds}: open {o['rps']:.0f}/s, protected "
                  f"{p['rps']:.0f}/s, gateway CPU {o['cpu_us_per_request'].get('gateway', 0):.0f} -> "
                  f"{p['cpu_us_per_request'].get('gateway', 0):.0f} us/request, repeats {p['repeats']}")
    result["cold_open"] = bench.summarize(cold["open"])
    result["cold_protected"] = bench.summarize(cold["protected"])
    result["cold_repeats"] = sum(r["repeats"] for r in cold["protected"])
    result["cold_non_2xx"] = result["cold_protected"]["non_2xx"]
    deltas = [p["cpu_us_per_request"].get("gateway", 0.0) - o["cpu_us_per_request"].get("gateway", 0.0)
              for o, p in zip(cold["open"], cold["protected"])]
    result["cold_check_cpu_us"] = round(statistics.median(deltas), 1)
    result["cold_check_cpu_us_rounds"] = [round(d, 1) for d in deltas]
    result["openssl"] = openssl_verify_us()
    result["cold_over_openssl"] = result["cold_check_cpu_us"] / result["openssl"]["verify_us"]
    result["in_worker"] = lua_costs(tokens_file, mint_cold)
    result["in_worker_cold_over_openssl"] = result["in_worker"]["cold_new_token_us"] / result["openssl"]["verify_us"]
    def cpu_delta(name: str) -> float:
        return round(statistics.median(
            r["cpu_us_per_request"].get("gateway", 0.0) - o["cpu_us_per_request"].get("gateway", 0.0)
            for o, r in zip(hot["open"], hot[name])), 1)

    result["hot_split_cpu_us"] = {name: cpu_delta(name) for name in ("empty_lua", "no_identity", "protected")}
    result["hot_check_cpu_us"] = result["hot_split_cpu_us"]["protected"]
    bench.log(f"gateway-only: hot {result['paired_rps_ratio']:.3f} x, p99 {result['paired_p99_ratio']:.2f} x; "
              f"cold check {result['cold_check_cpu_us']} us of gateway CPU per new token, "
              f"OpenSSL verify {result['openssl']['verify_us']} us: {result['cold_over_openssl']:.2f} x")
    return result


def lua_costs(tokens_file: Path, mint_cold) -> dict:
    """nginx/lua/tests/bench.lua in a worker of the bench stack's gateway: a
    hot token and 600 new ones through ``authenticate``, CPU per call."""
    import requests

    hot = tokens_file.read_text().split()[0]
    answer = requests.post(bench.GATEWAY + LUA_COSTS, data=json.dumps({"hot": hot, "cold": mint_cold(600)}),
                           timeout=120)
    answer.raise_for_status()
    return {k: round(v, 2) for k, v in answer.json().items()}


# --- the backend's share of a protected request ------------------------------------------------

def backend_split_phase(args, tokens_file: Path) -> dict:
    """Straight to the backend (no gateway), interleaved rounds:
    ``/api/public/ping`` bare, the same with the headers the gateway adds to
    a protected request (``Authorization`` and the five ``X-Auth-*``), and
    ``/api/ping`` with them (the backend's own check and the route). The
    backend CPU differences split its extra cost per protected request."""
    import jwt

    backend = f"http://127.0.0.1:{bench.STACK_ENV['BACKEND_PORT']}"
    claims = jwt.decode(tokens_file.read_text().split()[0], options={"verify_signature": False})
    identity = "|".join([f"X-Auth-User-Id: {claims['sub']}", f"X-Auth-Email: {claims['email']}",
                         f"X-Auth-Roles: {','.join(claims['roles'])}",
                         f"X-Auth-Permissions: {','.join(claims['permissions'])}",
                         f"X-Auth-Session-Id: {claims['sid']}"])
    seconds = max(2, round(args.duration * 0.75))
    variants = {
        "public_bare": ("/api/public/ping", None, ""),
        "public_with_headers": ("/api/public/ping", tokens_file, identity),
        "protected": ("/api/ping", tokens_file, identity),
    }
    runs = {name: [] for name in variants}
    for _ in range(3):
        for name, (path, tokens, extra) in variants.items():
            runs[name].append(bench.wrk(backend, "get.lua", seconds, args.connections, args.threads,
                                        {"BENCH_PATH": path, "BENCH_TOKENS": str(tokens) if tokens else "",
                                         "BENCH_HEADERS": extra}))
    cpu = {name: statistics.median(r["cpu_us_per_request"].get("backend", 0.0) for r in rs)
           for name, rs in runs.items()}
    out = {"cpu_us": {k: round(v, 1) for k, v in cpu.items()},
           "headers_us": round(cpu["public_with_headers"] - cpu["public_bare"], 1),
           "check_and_route_us": round(cpu["protected"] - cpu["public_with_headers"], 1),
           "rps": {name: round(statistics.median(r["rps"] for r in rs)) for name, rs in runs.items()}}
    bench.log(f"backend alone: {out['cpu_us']} us of CPU per request; headers {out['headers_us']:+} us, "
              f"check and route {out['check_and_route_us']:+} us")
    return out


# --- notes and the kit, in process ---------------------------------------------------------

class _AlreadyVerified:
    """Stands in for the kit's verifier in the unchecked variant: hands out
    the token verified once before the loop (the view still reads it)."""

    def __init__(self, token):
        self.token = token

    def verify_authorization_header(self, header):
        return self.token


def notes_phase(settings: dict, token: str, number: int = 50, repeat: int = 15) -> dict:
    """GET /api/notes in one process, three variants, interleaved, best of ``repeat``.

    ``kit_hot``: the kit's check as configured in notes (cache, revocation
    rule); ``kit_cold``: the same checks with the cache off (every request a
    signature); ``unchecked``: the view with the check replaced by the
    token the kit verified once. Each call is a Flask test-client request
    reading the caller's notes from the bench stack's MariaDB.
    """
    sys.path.insert(0, str(REPO / "services" / "notes"))
    from authgw_kit import TokenVerifier
    from notes import create_app

    backend = f"http://127.0.0.1:{bench.STACK_ENV['BACKEND_PORT']}"
    config = {
        "NOTES_DATABASE_URL": settings["DATABASE_URL"].replace("/auth?", "/notes?"),
        "AUTHGW_ISSUER": settings["PUBLIC_URL"], "AUTHGW_AUDIENCE": "api",
        "AUTHGW_JWKS_URL": f"{backend}/.well-known/jwks.json",
        "AUTHGW_REVOCATIONS_URL": f"{backend}/api/internal/revocations",
        "LOG_LEVEL": "WARNING",
    }
    app = create_app(config)
    kit = app.extensions["authgw_kit"]
    hot_verifier = kit.verifier
    cold_verifier = TokenVerifier(issuer=hot_verifier.issuer, audience=hot_verifier.audience, keys=hot_verifier.keys,
                                  revocations=hot_verifier.revocations,
                                  algorithms=app.extensions["notes"].algorithm_list,
                                  leeway=hot_verifier.leeway, cache_size=0)
    verified = hot_verifier.verify(token)
    variants = {"unchecked": _AlreadyVerified(verified), "kit_hot": hot_verifier, "kit_cold": cold_verifier}
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def call():
        answer = client.get("/api/notes", headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"GET /api/notes in process: {answer.status_code} {answer.get_data(as_text=True)[:200]}")

    best = {name: float("inf") for name in variants}
    for name, verifier in variants.items():  # warm up
        kit.verifier = verifier
        for _ in range(20):
            call()
    for _ in range(repeat):
        for name, verifier in variants.items():
            kit.verifier = verifier
            best[name] = min(best[name], timeit.timeit(call, number=number) / number)
    kit.verifier = hot_verifier
    hot_verifier.revocations.close()  # its poller would go on polling the backend (and log the outage phase)
    out = {name: round(seconds * 1e6, 1) for name, seconds in best.items()}
    out["kit_hot_cost_us"] = round(out["kit_hot"] - out["unchecked"], 1)
    out["kit_cold_cost_us"] = round(out["kit_cold"] - out["unchecked"], 1)
    out["ratio_hot"] = out["unchecked"] / out["kit_hot"]
    out["ratio_cold"] = out["unchecked"] / out["kit_cold"]
    out["method"] = f"Flask test client, best of {repeat} x {number} calls, interleaved, one process"
    bench.log(f"notes in process: unchecked {out['unchecked']} us, kit hot {out['kit_hot']} us, "
              f"kit cold {out['kit_cold']} us per GET /api/notes")
    return out


def kit_verify_phase() -> dict:
    """kit/bench_verify.py --json: the kit's verify next to raw PyJWT."""
    out = subprocess.run([sys.executable, str(REPO / "kit" / "bench_verify.py"), "--json"],
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    bench.log(f"kit verify: pyjwt {result['best']['pyjwt']:.1f} us, kit cold {result['best']['kit_cold']:.1f} us "
              f"({result['kit_cold_over_pyjwt']:.3f} x), kit hot {result['best']['kit_hot']:.2f} us")
    return result


# --- backend stopped ---------------------------------------------------------------------------

def outage_phase(args, tokens_file: Path, revoked: str) -> dict:
    """Notes through the gateway before and while the backend is SIGSTOPped.

    ``revoked`` was revoked (logout) before the stop; it must be refused by
    the gateway and by notes itself (its kit) all along.
    """
    import requests

    notes = f"http://127.0.0.1:{bench.STACK_ENV['NOTES_PORT']}"
    seconds = max(2, round(args.duration * 0.75))
    run_args = type(args)(**{**vars(args), "duration": seconds})

    def refused() -> dict:
        auth = {"Authorization": f"Bearer {revoked}"}
        return {"gateway": requests.get(bench.GATEWAY + "/api/notes", headers=auth, timeout=5).status_code,
                "notes": requests.get(notes + "/api/notes", headers=auth, timeout=5).status_code}

    before = bench.get_run(bench.GATEWAY, "/api/notes", tokens_file, run_args)
    refused_before = refused()
    bench.stack("freeze", "backend")
    frozen_at = time.monotonic()
    try:
        time.sleep(1.0)
        during = bench.get_run(bench.GATEWAY, "/api/notes", tokens_file, run_args)
        refused_during = refused()
        frozen_for = time.monotonic() - frozen_at
    finally:
        bench.stack("thaw", "backend")
    result = {"before": before, "during": during, "refused_before": refused_before,
              "refused_during": refused_during, "frozen_seconds": round(frozen_for, 1),
              "p50_ratio": during["p50_ms"] / before["p50_ms"], "p99_ratio": during["p99_ms"] / before["p99_ms"],
              "rps_ratio": during["rps"] / before["rps"]}
    bench.log(f"backend frozen: notes {before['rps']:.0f} -> {during['rps']:.0f}/s, p99 {before['p99_ms']:.1f} -> "
              f"{during['p99_ms']:.1f} ms, non-2xx {during['errors']['status']}; revoked token: {refused_during}")
    return result


# --- report -------------------------------------------------------------------------------------

def report_lines(result: dict) -> list[str]:
    out = []
    g = result.get("gateway_only")
    if g:
        o, p = g["open"], g["protected"]
        out += ["", "8 gateway-only cost: the same static upstream (nginx return 200), same Authorization header",
                f"  {'location':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'gw CPU us':>11}",
                f"  {'unprotected ' + OPEN:<34}{o['rps']:>9.0f}{o['p50_ms']:>9.2f}{o['p99_ms']:>9.2f}"
                f"{o['cpu_us_per_request'].get('gateway', 0):>11.1f}",
                f"  {'Lua check, hot tokens':<34}{p['rps']:>9.0f}{p['p50_ms']:>9.2f}{p['p99_ms']:>9.2f}"
                f"{p['cpu_us_per_request'].get('gateway', 0):>11.1f}",
                f"  ratio protected / unprotected: throughput {p['rps'] / o['rps']:.3f} x (paired median "
                f"{g['paired_rps_ratio']:.3f}), p99 {p['p99_ms'] / o['p99_ms']:.2f} x (paired "
                f"{g['paired_p99_ratio']:.2f}); check {g['hot_check_cpu_us']:.1f} us of gateway CPU per request",
                f"  gateway CPU over unprotected, us per request (median of rounds): empty access_by_lua "
                f"{g['hot_split_cpu_us']['empty_lua']:+.1f}, check without identity "
                f"{g['hot_split_cpu_us']['no_identity']:+.1f}, check with identity (as deployed) "
                f"{g['hot_split_cpu_us']['protected']:+.1f}; paired throughput ratios: empty Lua "
                f"{g['paired_ratio_empty_lua']:.3f}, no identity {g['paired_ratio_no_identity']:.3f}",
                f"  cold (every request a new token): {g['cold_protected']['rps']:.0f} vs {g['cold_open']['rps']:.0f}"
                f" req/s; gateway CPU per new token {g['cold_check_cpu_us']:.1f} us (rounds "
                f"{g['cold_check_cpu_us_rounds']}), {g['cold_repeats']} reused tokens; of which the hot check "
                f"{g['hot_check_cpu_us']:.1f} us, a token being new {g['cold_check_cpu_us'] - g['hot_check_cpu_us']:.1f} us",
                f"  openssl speed -seconds 2 ecdsap256: one verify {g['openssl']['verify_us']:.1f} us "
                f"({g['openssl']['line']}); cold check / verify = {g['cold_over_openssl']:.2f} x"]
        w = g.get("in_worker")
        if w:
            out.append(f"  in a gateway worker, no HTTP (nginx/lua/tests/bench.lua): new token "
                       f"{w['cold_new_token_us']:.1f} us ({g['in_worker_cold_over_openssl']:.2f} x the verify; "
                       f"signature step {w['part_signature_us']:.1f} us), hot token {w['hot_cache_hit_us']:.2f} us, "
                       f"whole hot check with identity {w.get('hot_check_identity_us', 0):.2f} us")
    bs = result.get("backend_split")
    if bs:
        c = bs["cpu_us"]
        out += ["", "8b the backend's share, straight to it (no gateway), backend CPU us per request:",
                f"  /api/public/ping {c['public_bare']:.0f}; with Authorization + 5 X-Auth-* headers "
                f"{c['public_with_headers']:.0f} ({bs['headers_us']:+.0f}); /api/ping with them "
                f"{c['protected']:.0f} ({bs['check_and_route_us']:+.0f}: the check and the route)"]
    n = result.get("notes")
    if n:
        out += ["", f"9 GET /api/notes in process ({n['method']}):",
                f"  without the check (token verified once)   {n['unchecked']:8.1f} us",
                f"  kit check, token seen before (cache)      {n['kit_hot']:8.1f} us  (+{n['kit_hot_cost_us']:.1f} us, "
                f"{n['ratio_hot']:.3f} x the throughput)",
                f"  kit check, every token new (no cache)     {n['kit_cold']:8.1f} us  (+{n['kit_cold_cost_us']:.1f} us, "
                f"{n['ratio_cold']:.3f} x)"]
    k = result.get("kit_verify")
    if k:
        b = k["best"]
        out += [f"  kit/bench_verify.py: PyJWT jwt.decode {b['pyjwt']:.1f} us, TokenVerifier.verify without cache "
                f"{b['kit_cold']:.1f} us ({k['kit_cold_over_pyjwt']:.3f} x), with cache {b['kit_hot']:.2f} us"]
    o = result.get("outage")
    if o:
        b, d = o["before"], o["during"]
        out += ["", f"10 backend SIGSTOPped ({o['frozen_seconds']} s): GET /api/notes through the gateway, valid tokens",
                f"  before: {b['rps']:.0f} req/s, p50 {b['p50_ms']:.2f} ms, p99 {b['p99_ms']:.2f} ms, "
                f"non-2xx {b['errors']['status']}",
                f"  frozen: {d['rps']:.0f} req/s, p50 {d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms, "
                f"non-2xx {d['errors']['status']} (p99 {o['p99_ratio']:.2f} x)",
                f"  token revoked before the stop: gateway {o['refused_during']['gateway']}, "
                f"notes {o['refused_during']['notes']} (before the stop: {o['refused_before']})"]
    return out


def evaluate(result: dict, add) -> None:
    g = result.get("gateway_only")
    if g:
        add("gateway-only hot throughput >= 0.97 x unprotected",
            g["paired_rps_ratio"] >= TARGETS["gateway_hot_throughput_ratio_min"] and g["protected"]["non_2xx"] == 0,
            f"paired median {g['paired_rps_ratio']:.3f} (medians {g['protected']['rps'] / g['open']['rps']:.3f})")
        add("gateway-only hot p99 <= 1.1 x unprotected", g["paired_p99_ratio"] <= TARGETS["gateway_hot_p99_ratio_max"],
            f"paired median {g['paired_p99_ratio']:.2f}")
        add("cold token: gateway CPU <= 1.25 x one OpenSSL ES256 verify",
            g["cold_over_openssl"] <= TARGETS["gateway_cold_over_openssl_max"] and g["cold_repeats"] == 0
            and g["cold_non_2xx"] == 0,
            f"{g['cold_check_cpu_us']:.1f} / {g['openssl']['verify_us']:.1f} us = {g['cold_over_openssl']:.2f}, "
            f"{g['cold_repeats']} reused, {g['cold_non_2xx']} non-2xx")
    k = result.get("kit_verify")
    if k:
        add("kit verify <= 1.1 x raw PyJWT", k["kit_cold_over_pyjwt"] <= TARGETS["kit_verify_over_pyjwt_max"],
            f"{k['kit_cold_over_pyjwt']:.3f} x")
    o = result.get("outage")
    if o:
        ok = (o["during"]["errors"]["status"] == 0 and o["p99_ratio"] <= TARGETS["outage_p99_ratio_max"]
              and o["refused_during"] == {"gateway": 401, "notes": 401})
        add("backend stopped: notes answers valid tokens (p99 <= 1.5 x), revoked stay refused", ok,
            f"p99 {o['p99_ratio']:.2f} x, non-2xx {o['during']['errors']['status']}, revoked {o['refused_during']}")
