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
alone), the gateway reloads, and they are removed at the end. No product
configuration has them.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import bench

#: The static upstream's port (bench stack only, next to its gateway's 48080).
STATIC_PORT = 48096
PROTECTED, OPEN = "/api/_bench/protected", "/api/_bench/open"

SERVER_SNIPPET = f"""# bench/figures.py only (bench stack): the gateway-only cost, one static upstream
location = {PROTECTED} {{
    access_by_lua_block {{ require("authgw.gateway").check({{identity = true}}) }}
    proxy_pass http://bench_static;
}}
location = {OPEN} {{
    proxy_pass http://bench_static;
}}
"""
HTTP_SNIPPET = f"""# bench/figures.py only (bench stack): the static upstream of {PROTECTED} and {OPEN}
upstream bench_static {{
    server 127.0.0.1:{STATIC_PORT};
    keepalive 64;
    keepalive_requests 100000;
}}
server {{
    listen 127.0.0.1:{STATIC_PORT};
    access_log off;
    keepalive_requests 100000;
    location / {{ default_type text/plain; return 200 "ok\\n"; }}
}}
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
    """Write the two bench locations and their static upstream, reload, wait."""
    import requests

    folder = include_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server-bench.conf").write_text(SERVER_SNIPPET)
    (folder / "http-bench.conf").write_text(HTTP_SNIPPET)
    reload_gateway()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(bench.GATEWAY + OPEN, timeout=2).status_code == 200:
                time.sleep(1.5)  # the new workers poll keys and feed first
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("the bench locations did not answer after the gateway reload")


def remove_locations() -> None:
    folder = include_dir()
    removed = False
    for name in ("server-bench.conf", "http-bench.conf"):
        if (folder / name).exists():
            (folder / name).unlink()
            removed = True
    if removed:
        try:
            reload_gateway()
        except (subprocess.SubprocessError, ValueError):
            pass  # the stack is going down anyway


# --- gateway only ------------------------------------------------------------------------

def openssl_verify_us() -> dict:
    """One ES256 (P-256) verify, microseconds, from ``openssl speed -seconds 2 ecdsap256``."""
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "ecdsap256"], capture_output=True, text=True,
                         timeout=60).stdout
    line = [ln for ln in out.splitlines() if "nistp256" in ln and "ecdsa" in ln][-1]
    verify_per_s = float(line.split()[-1])
    return {"verify_us": round(1e6 / verify_per_s, 2), "line": " ".join(line.split())}


def gateway_phase(args, tokens_file: Path, mint_cold, workdir: Path) -> dict:
    """Hot and cold rounds, interleaved, against the two bench locations.

    Args:
        args: bench options (duration, rounds, connections, threads).
        tokens_file: the 32 hot tokens, one per line.
        mint_cold: callable(n) -> list of n distinct valid tokens.
        workdir: folder for the cold token files.
    """
    hot = {"open": [], "protected": []}
    for rnd in range(args.rounds):
        hot["open"].append(bench.get_run(bench.GATEWAY, OPEN, tokens_file, args))
        hot["protected"].append(bench.get_run(bench.GATEWAY, PROTECTED, tokens_file, args))
        o, p = hot["open"][-1], hot["protected"][-1]
        bench.log(f"gateway-only hot {rnd + 1}/{args.rounds}: open {o['rps']:.0f}/s p99 {o['p99_ms']:.2f} ms, "
                  f"protected {p['rps']:.0f}/s p99 {p['p99_ms']:.2f} ms (load {bench.loadavg()[0]:.2f})")
    result = {name: bench.summarize(runs) for name, runs in hot.items()}
    pairs = list(zip(hot["open"], hot["protected"]))
    result["paired_rps_ratio"] = statistics.median(p["rps"] / o["rps"] for o, p in pairs)
    result["paired_p99_ratio"] = statistics.median(p["p99_ms"] / o["p99_ms"] for o, p in pairs)

    # Cold: every request a new token; the same tokens to the open location
    # (same header sizes), so the gateway CPU difference is the check's.
    cold_seconds = max(2, round(args.duration * 0.75))
    cold_args = type(args)(**{**vars(args), "duration": cold_seconds})
    expected = max(result["protected"]["rps"], 4000)
    per_run = int(expected * cold_seconds * 1.5)
    cold = {"open": [], "protected": []}
    for rnd in range(args.cold_rounds):
        for name, path in (("open", OPEN), ("protected", PROTECTED)):
            f = bench.write_lines(workdir / f"cold-{rnd}-{name}.txt", mint_cold(per_run))
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
    hot_deltas = [p["cpu_us_per_request"].get("gateway", 0.0) - o["cpu_us_per_request"].get("gateway", 0.0)
                  for o, p in pairs]
    result["hot_check_cpu_us"] = round(statistics.median(hot_deltas), 1)
    bench.log(f"gateway-only: hot {result['paired_rps_ratio']:.3f} x, p99 {result['paired_p99_ratio']:.2f} x; "
              f"cold check {result['cold_check_cpu_us']} us of gateway CPU per new token, "
              f"OpenSSL verify {result['openssl']['verify_us']} us: {result['cold_over_openssl']:.2f} x")
    return result


# --- notes and the kit, in process ---------------------------------------------------------

class _AlreadyVerified:
    """Stands in for the kit's verifier in the unchecked variant: hands out
    the token verified once before the loop (the view still reads it)."""

    def __init__(self, token):
        self.token = token

    def verify_authorization_header(self, header):
        return self.token


def notes_phase(settings: dict, token: str, number: int = 200, repeat: int = 5) -> dict:
    """GET /api/notes in one process, three variants, interleaved, best of ``repeat``.

    ``kit_hot``: the kit's check as configured in notes (cache, revocation
    rule); ``kit_cold``: the same checks with the cache off (every request a
    signature); ``unchecked``: the view with the check replaced by the
    token the kit verified once. Each call is a Flask test-client request
    reading the caller's notes from the bench stack's MariaDB.
    """
    sys.path.insert(0, str(bench.REPO / "services" / "notes"))
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
    out = subprocess.run([sys.executable, str(bench.REPO / "kit" / "bench_verify.py"), "--json"],
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
                f"  cold (every request a new token): {g['cold_protected']['rps']:.0f} vs {g['cold_open']['rps']:.0f}"
                f" req/s; gateway CPU per new token {g['cold_check_cpu_us']:.1f} us (rounds "
                f"{g['cold_check_cpu_us_rounds']}), {g['cold_repeats']} reused tokens",
                f"  openssl speed -seconds 2 ecdsap256: one verify {g['openssl']['verify_us']:.1f} us "
                f"({g['openssl']['line']}); cold check / verify = {g['cold_over_openssl']:.2f} x"]
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
