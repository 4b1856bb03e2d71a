#!/usr/bin/env python3
"""Experiments of issue 6 on COPIES: gateway variants and gunicorn settings.

Needs the bench stack up (``bench/run --keep`` once). Nothing of the
product is edited: each gateway variant is ``scripts/render-gateway``'s
output with a textual change, run by its own nginx on its own port (4809x)
with its own state under ``.stack-bench/variants/``; each gunicorn variant
is the same backend code started with other settings on its own port
(4801x). All of them share the bench stack's MariaDB, Redis and dev IdP.

    .venv/bin/python bench/experiments/variants.py gateway [--only a,c,...] [--rounds 3] [--duration 5]
    .venv/bin/python bench/experiments/variants.py gunicorn [--configs gthread:5x4,sync:5,...]

Runs are interleaved (every variant's baseline and protected run once per
round) and medians reported, with CPU microseconds per request of the
gateway and the backend. JSON goes to bench/results/variants-*.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/bench.py
import bench  # noqa: E402

REPO = bench.REPO
VARIANTS_DIR = bench.STACK_DIR / "variants"
NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"


def log(message: str) -> None:
    print(f"variants: {message}", file=sys.stderr, flush=True)


# --- processes ------------------------------------------------------------------

class Proc:
    """A process started in its own session; stopped by its own pid only."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None, cwd: Path | None = None,
                 pidfile: Path | None = None):
        self.name = name
        logfile = open(VARIANTS_DIR / f"{name}.log", "ab")
        self.popen = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=logfile,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self.pidfile = pidfile or VARIANTS_DIR / f"{name}.pid"
        self.pidfile.write_text(str(self.popen.pid))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM if "gunicorn" in self.name else signal.SIGQUIT)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def wait_http(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def backend_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in bench.STACK_ENV_DROP}
    env.update(bench.stack_settings())
    env["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{bench.STACK_ENV['REDIS_PORT']}/0"
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"
    return env


def start_gunicorn(name: str, port: int, worker_class: str, workers: int, threads: int,
                   code: Path | None = None) -> Proc:
    """gunicorn with the product's gunicorn.conf.py and other settings; ``code``
    is a copy of backend/ to run instead (a prototype of a backend change)."""
    argv = [str(REPO / ".venv" / "bin" / "gunicorn"), "--config", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", worker_class,
            "authgw:create_app()"]
    proc = Proc(f"gunicorn-{name}", argv, env=backend_env(), cwd=code or REPO / "backend")
    wait_http(f"http://127.0.0.1:{port}/api/health")
    return proc


# --- gateway variants --------------------------------------------------------------

def render(name: str, port: int, backend_port: int) -> tuple[str, Path]:
    """The product's template rendered for a copy on ``port``."""
    state = VARIANTS_DIR / name
    shutil.rmtree(state, ignore_errors=True)
    (state / "gateway.d").mkdir(parents=True)
    os.chmod(state, 0o755)
    env = {**os.environ, **bench.STACK_ENV,
           "GATEWAY_LISTEN": f"127.0.0.1:{port}", "BACKEND_UPSTREAM": f"127.0.0.1:{backend_port}",
           "FRONTEND_UPSTREAM": f"127.0.0.1:{bench.STACK_ENV['FRONTEND_PORT']}",
           "GATEWAY_STATE_DIR": str(state), "GATEWAY_INCLUDE_DIR": str(state / "gateway.d"),
           # on disk unless the variant says otherwise (b): each copy its own folder
           "GATEWAY_AUTH_CACHE_DIR": str(state / "auth_cache"),
           "GATEWAY_ACCESS_LOG": str(state / "access.log"), "GATEWAY_ERROR_LOG": str(state / "error.log")}
    out = state / "gateway.conf"
    subprocess.run([str(REPO / "scripts" / "render-gateway"), str(out)], env=env, check=True, capture_output=True)
    return out.read_text(), state


def _sub(conf: str, old: str, new: str, count: int = 1) -> str:
    if conf.count(old) < 1:
        raise RuntimeError(f"variant patch does not apply: {old!r}")
    return conf.replace(old, new, count)


def njs_verifier(state: Path) -> Path:
    """bench/experiments/njs/jwt_verify.js with the JWK Set's keys as SPKI DER."""
    import requests

    jwks = requests.get(f"{bench.GATEWAY}/.well-known/jwks.json", timeout=5).json()
    keys = {}
    for jwk in jwks["keys"]:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        x = base64.urlsafe_b64decode(jwk["x"] + "==")
        y = base64.urlsafe_b64decode(jwk["y"] + "==")
        spki = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + x + y
        keys[jwk["kid"]] = base64.b64encode(spki).decode()
    text = (Path(__file__).resolve().parent / "njs" / "jwt_verify.js").read_text()
    text = text.replace("__KEYS__", json.dumps(keys)).replace("__ISSUER__", json.dumps(bench.STACK_ENV["PUBLIC_URL"]))
    text = text.replace("__AUDIENCE__", json.dumps("api"))
    path = state / "jwt_verify.js"
    path.write_text(text)
    path.chmod(0o644)
    return path


#: tmpfs folders made by variant b, removed when the run ends.
SHM_DIRS: list[Path] = []


#: The gateway variants patch the turn-1 template (auth_request to the
#: backend, njs cache key); the Lua gateway of turn 2 has no such location.
TURN1_MARKER = "        location = /_auth {"
TURN1_COMMIT = "14cf12c"


def variant_conf(key: str, conf: str, state: Path) -> str:
    if "+" in key:  # combinations, e.g. b+h
        for part in key.split("+"):
            conf = variant_conf(part, conf, state)
        return conf
    if key == "a":  # the template as it is (turn 1: auth_request + 1 s proxy_cache keyed by njs sha256)
        return conf
    if TURN1_MARKER not in conf:
        raise SystemExit(f"variants: variant {key} patches the turn-1 gateway (auth_request); run it "
                         f"from a checkout of commit {TURN1_COMMIT} (git worktree add /tmp/t1 {TURN1_COMMIT})")
    if key == "b":  # the check cache on tmpfs
        shm = Path("/dev/shm") / f"authgw-bench-{state.name}"
        shutil.rmtree(shm, ignore_errors=True)
        shm.mkdir(parents=True)
        SHM_DIRS.append(shm)
        os.chmod(shm, 0o777)
        return _sub(conf, f"proxy_cache_path {state}/auth_cache", f"proxy_cache_path {shm}/auth_cache")
    if key == "b2":  # open_file_cache for the cache files
        return _sub(conf, "            proxy_cache auth_check;\n",
                    "            proxy_cache auth_check;\n            open_file_cache max=10000 inactive=10s;\n"
                    "            open_file_cache_valid 1s;\n")
    if key == "c":  # no cache: every protected request asks the backend
        return _sub(conf, "            proxy_cache auth_check;\n", "            proxy_cache off;\n")
    if key == "d":  # cache keyed on the header itself (token in cache files): no njs in the subrequest
        return _sub(conf, "proxy_cache_key $auth_cache_key;", "proxy_cache_key $http_authorization;")
    if key == "f":  # (a) + serve the expired entry while one background request refreshes it
        return _sub(conf, "            proxy_cache auth_check;\n",
                    "            proxy_cache auth_check;\n            proxy_cache_use_stale updating;\n"
                    "            proxy_cache_background_update on;\n")
    if key == "g":  # (a) with a 2 s cache (worst case revocation 1 + 3 = 4 s)
        return _sub(conf, "proxy_cache_valid 200 204 401 403 1s;", "proxy_cache_valid 200 204 401 403 2s;")
    if key in ("h", "dh"):  # WWW-Authenticate of the gateway's answers from maps instead of njs
        if key == "dh":
            conf = _sub(conf, "proxy_cache_key $auth_cache_key;", "proxy_cache_key $http_authorization;")
        if "js_set $auth_www_authenticate_out" not in conf:
            return conf  # the template does it with maps already (since issue 6)
        conf = _sub(conf, "    js_set $auth_www_authenticate_out gateway.wwwAuthenticate;\n", "")
        return _sub(conf, "    map $http_authorization $auth_cache_bypass {", WWW_AUTHENTICATE_MAPS
                    + "    map $http_authorization $auth_cache_bypass {")
    if key == "e":  # njs verifies the JWT itself (no backend call, no revocation)
        js = njs_verifier(state)
        conf = _sub(conf, "    js_import gateway from", f"    js_import jwtv from {js};\n    js_import gateway from")
        start = conf.index("        location = /_auth {")
        end = conf.index("        }\n", start) + len("        }\n")
        conf = conf[:start] + ("        location = /_auth {\n            internal;\n            auth_request off;\n"
                               "            js_content jwtv.verify;\n        }\n") + conf[end:]
        conf = conf.replace("$upstream_http_x_auth_", "$sent_http_x_auth_")
        return conf.replace("auth_request_set $auth_www_authenticate $upstream_http_www_authenticate;",
                            "auth_request_set $auth_www_authenticate $sent_http_www_authenticate;")
    raise KeyError(key)


#: nginx/njs/gateway.js wwwAuthenticate() as maps: no njs VM for the
#: requests that do not need one (every answer evaluates add_header).
WWW_AUTHENTICATE_MAPS = r"""    map $http_authorization $auth_challenge_401 {
        ""      'Bearer realm="api"';
        default 'Bearer realm="api", error="invalid_token"';
    }
    map "$gateway_error_status|$auth_www_authenticate" $auth_www_authenticate_out {
        "~^\|"          "";
        "~^401\|."      "";
        "401|"          $auth_challenge_401;
        "403|"          'Bearer realm="api", error="insufficient_scope"';
        "~^\d+\|(.+)$"  $1;
        default         "";
    }
"""

GATEWAY_VARIANTS = {
    "a": "template as is (auth_request + proxy_cache 1 s, key njs sha256(Authorization)), cache on disk",
    "b": "as a, cache directory on tmpfs (/dev/shm)",
    "b2": "as a, plus open_file_cache for the cache files",
    "c": "auth_request without cache (every request asks the backend)",
    "d": "as a, key $http_authorization directly (no njs; token in cache files)",
    "e": "njs verifies ES256 in nginx (WebCrypto), no backend call, NO revocation",
    "f": "as a, plus proxy_cache_use_stale updating + background update",
    "g": "as a, cache 2 s",
    "h": "as a, WWW-Authenticate from maps (njs only for the cache key)",
    "dh": "d + h: no njs on the request path at all",
}


def start_nginx(name: str, conf_text: str, state: Path) -> Proc:
    conf = state / "gateway.conf"
    conf.write_text(conf_text)
    test = subprocess.run(["nginx", "-t", "-q", "-p", str(state), "-c", str(conf), "-e", str(state / "error.log")],
                          capture_output=True, text=True)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {name}: {test.stderr}")
    return Proc(f"nginx-{name}", ["nginx", "-p", str(state), "-c", str(conf), "-e", str(state / "error.log"),
                                  "-g", "daemon off;"])


# --- measuring -----------------------------------------------------------------------

def check_variant(url: str, token: str, forged: str, challenge: bool = True) -> dict:
    """The variant keeps the promises the bench relies on: 200 + identity headers, 401."""
    import requests

    ok = requests.get(f"{url}/api/whoami", headers={"Authorization": f"Bearer {token}",
                                                  "X-Auth-User-Id": "999999"}, timeout=10)
    bad = requests.get(f"{url}/api/ping", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    none = requests.get(f"{url}/api/ping", timeout=10)
    headers = ok.json().get("gateway_headers", {}) if ok.status_code == 200 else {}
    result = {"valid": ok.status_code, "identity_headers": headers, "forged": bad.status_code,
              "forged_body": bad.text[:120], "forged_challenge": bad.headers.get("WWW-Authenticate"),
              "no_token": none.status_code, "no_token_challenge": none.headers.get("WWW-Authenticate")}
    if ok.status_code != 200 or headers.get("X-Auth-User-Id") in (None, "", "999999") or bad.status_code != 401 \
            or none.status_code != 401 or challenge and ('error="invalid_token"' not in (result["forged_challenge"] or "")
                                                     or none.headers.get("WWW-Authenticate") != 'Bearer realm="api"') \
            or bad.json().get("error") != "invalid_token" or none.json().get("error") != "invalid_token":
        raise RuntimeError(f"variant at {url} breaks the contract: {result}")
    return result


def measure(targets: dict, tokens_file: Path, rounds: int, duration: float, connections: int) -> dict:
    """targets: name -> (url, gateway pidfile, backend pidfile). Interleaved rounds."""
    args = argparse.Namespace(duration=duration, connections=connections, threads=2)
    runs = {name: {"baseline": [], "protected": []} for name in targets}
    for rnd in range(rounds):
        for name, (url, gw_pid, be_pid) in targets.items():
            bench.PIDFILES["gateway"] = gw_pid
            bench.PIDFILES["backend"] = be_pid
            b = bench.get_run(url, "/api/public/ping", None, args)
            p = bench.get_run(url, "/api/ping", tokens_file, args)
            runs[name]["baseline"].append(b)
            runs[name]["protected"].append(p)
            log(f"round {rnd + 1} {name:>14}: base {b['rps']:6.0f}/s p99 {b['p99_ms']:6.1f} | prot {p['rps']:6.0f}/s "
                f"p99 {p['p99_ms']:6.1f} | gw {b['cpu_us_per_request']['gateway']:.0f}/"
                f"{p['cpu_us_per_request']['gateway']:.0f} us, be {b['cpu_us_per_request']['backend']:.0f}/"
                f"{p['cpu_us_per_request']['backend']:.0f} us (load {bench.loadavg()[0]:.1f})")
    out = {}
    for name, r in runs.items():
        b, p = bench.summarize(r["baseline"]), bench.summarize(r["protected"])
        ratios = [pp["rps"] / bb["rps"] for bb, pp in zip(r["baseline"], r["protected"])]
        out[name] = {"baseline": b, "protected": p, "ratio_rps": p["rps"] / b["rps"],
                     "ratio_rps_median_of_pairs": statistics.median(ratios),
                     "ratio_p99": p["p99_ms"] / b["p99_ms"]}
    return out


def print_table(results: dict, labels: dict) -> None:
    print()
    head = (f"{'variant':<16}{'base/s':>8}{'prot/s':>8}{'ratio':>7}{'pairs':>7}{'p99 b':>8}{'p99 p':>8}{'p99 x':>7}"
            f"{'gw us b/p':>12}{'be us b/p':>12}{'non2xx':>8}  what")
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        b, p = r["baseline"], r["protected"]
        gw = f"{b['cpu_us_per_request']['gateway']:.0f}/{p['cpu_us_per_request']['gateway']:.0f}"
        be = f"{b['cpu_us_per_request']['backend']:.0f}/{p['cpu_us_per_request']['backend']:.0f}"
        print(f"{name:<16}{b['rps']:>8.0f}{p['rps']:>8.0f}{r['ratio_rps']:>7.2f}{r['ratio_rps_median_of_pairs']:>7.2f}"
              f"{b['p99_ms']:>8.1f}{p['p99_ms']:>8.1f}{r['ratio_p99']:>7.2f}{gw:>12}{be:>12}"
              f"{b['non_2xx'] + p['non_2xx']:>8}  {labels.get(name, '')}")
    print()


def prepare_tokens(workdir: Path, count: int = 32) -> tuple[Path, list[str], list[str]]:
    """``count`` valid tokens: through /api/auth/refresh up to 64, minted in-process beyond
    (a cold gateway cache: more tokens than the gateway sees in one cache lifetime)."""
    settings = bench.stack_settings()
    eng = bench.engine(settings)
    users = bench.seed_users(eng, 32)
    raws = bench.seed_sessions(eng, users, 32)
    access = bench.access_tokens_via_refresh(bench.GATEWAY, raws)
    if count > 32:
        access = bench.mint_tokens(settings, eng, count)
    else:
        access = access[:count]
    return bench.write_lines(workdir / "access.txt", access), access, bench.forge(access[:32])


def serve(args, procs: list) -> int:
    klass, _, size = args.configs.split(",")[0].partition(":")
    workers, _, threads = size.partition("x")
    code = Path(args.backend_code) if args.backend_code else None
    gproc = start_gunicorn("serve", 48015, klass, int(workers), int(threads or 1), code)
    procs.append(gproc)
    name = f"gw-serve-{args.gateway.replace('+', '-')}"
    text, state = render(name, args.port, 48015)
    nproc = start_nginx(name, variant_conf(args.gateway, text, state), state)
    procs.append(nproc)
    wait_http(f"http://127.0.0.1:{args.port}/api/health")
    print(f"serving: gateway variant {args.gateway} on http://127.0.0.1:{args.port} (pid file {nproc.pidfile}), "
          f"gunicorn {args.configs.split(',')[0]} from {code or REPO / 'backend'} on :48015 (pid file {gproc.pidfile})",
          flush=True)
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(p.popen.poll() is None for p in procs):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["gateway", "gunicorn", "serve"],
                        help="serve: start one gateway variant (--gateway) in front of one gunicorn (--configs, "
                        "--backend-code) on :48095/:48015 and keep them until Ctrl-C, for bench/run --no-stack "
                        "--url http://127.0.0.1:48095 --gateway-pidfile ... --backend-pidfile ...")
    parser.add_argument("--only", default="a,b,b2,c,d,e,f", help="gateway variants (default a,b,b2,c,d,e,f)")
    parser.add_argument("--configs", default="gthread:5x4,gthread:3x2,gthread:2x1,gthread:3x1,sync:3,sync:5",
                        help="gunicorn settings class:WORKERSxTHREADS or class:WORKERS, behind gateway variant a")
    parser.add_argument("--gateway", default="a", help="gateway variant in front of the gunicorn variants")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=48095, help="serve: gateway port (48080 after "
                        "`scripts/stack stop gateway` of the bench stack runs tests/stack against the variant)")
    parser.add_argument("--tokens", type=int, default=32, help="distinct access tokens (8192: cold gateway cache)")
    parser.add_argument("--backend-code", default=None,
                        help="run this copy of backend/ instead of the stack's (gateway experiments and serve: "
                        "with the first of --configs)")
    args = parser.parse_args()

    # the bench stack is up (its backend: serve may stand in for its gateway)
    bench.expect_status(f"http://127.0.0.1:{bench.STACK_ENV['BACKEND_PORT']}", "/api/health", None, 200)
    VARIANTS_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(bench.STACK_DIR, 0o755)
    os.chmod(VARIANTS_DIR, 0o755)
    procs: list[Proc] = []
    result = {"started_at": datetime.now().isoformat(timespec="seconds"), "machine": bench.machine_info(),
              "loadavg_start": bench.loadavg(), "args": vars(args)}
    try:
        if args.what == "serve":
            return serve(args, procs)
        tokens_file, access, forged = prepare_tokens(VARIANTS_DIR, args.tokens)
        targets, labels, checks = {}, {}, {}
        if args.what == "gateway":
            backend_port = int(bench.STACK_ENV["BACKEND_PORT"])
            be_pid = bench.STACK_DIR / "run" / "backend.pid"
            if args.backend_code:
                klass, _, size = args.configs.split(",")[0].partition(":")
                workers, _, threads = size.partition("x")
                gproc = start_gunicorn("copy", 48019, klass, int(workers), int(threads or 1), Path(args.backend_code))
                procs.append(gproc)
                backend_port, be_pid = 48019, gproc.pidfile
            for i, key in enumerate(k.strip() for k in args.only.split(",") if k.strip()):
                port = 48090 + i
                text, state = render(f"gw-{key.replace('+', '-')}", port, backend_port)
                proc = start_nginx(f"gw-{key.replace('+', '-')}", variant_conf(key, text, state), state)
                procs.append(proc)
                url = f"http://127.0.0.1:{port}"
                wait_http(f"{url}/api/health")
                # (e) is a cost measurement: its 401s lack the check's challenge (see docs/performance.md)
                checks[key] = check_variant(url, access[0], forged[0], challenge=key != "e")
                targets[key] = (url, proc.pidfile, be_pid)
                labels[key] = " + ".join(GATEWAY_VARIANTS[k] for k in key.split("+"))
        else:
            for i, spec in enumerate(c.strip() for c in args.configs.split(",") if c.strip()):
                klass, _, size = spec.partition(":")
                workers, _, threads = size.partition("x")
                workers, threads = int(workers), int(threads or 1)
                name = f"{klass}:{workers}x{threads}" if klass == "gthread" else f"{klass}:{workers}"
                be_port, gw_port = 48010 + i, 48090 + i
                gproc = start_gunicorn(name.replace(":", "-"), be_port, klass, workers, threads,
                                       Path(args.backend_code) if args.backend_code else None)
                procs.append(gproc)
                text, state = render(f"gw-{args.gateway.replace('+', '-')}-for-{i}", gw_port, be_port)
                proc = start_nginx(f"gw-{args.gateway.replace('+', '-')}-for-{i}", variant_conf(args.gateway, text, state),
                                   state)
                procs.append(proc)
                url = f"http://127.0.0.1:{gw_port}"
                wait_http(f"{url}/api/health")
                checks[name] = check_variant(url, access[0], forged[0])
                targets[name] = (url, proc.pidfile, gproc.pidfile)
                labels[name] = f"gunicorn {klass}, {workers} workers" + (f" x {threads} threads" if klass == "gthread" else "")
        # warm-up: every worker sees the tokens once
        warm = argparse.Namespace(duration=2, connections=args.connections, threads=2)
        for url, _, _ in targets.values():
            bench.get_run(url, "/api/ping", tokens_file, warm)
        result["checks"] = checks
        result["results"] = measure(targets, tokens_file, args.rounds, args.duration, args.connections)
        result["labels"] = labels
    finally:
        for proc in reversed(procs):
            proc.stop()
        for shm in SHM_DIRS:
            shutil.rmtree(shm, ignore_errors=True)
    result["loadavg_end"] = bench.loadavg()
    bench.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = bench.RESULTS_DIR / f"variants-{args.what}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_table(result["results"], result["labels"])
    print(f"load average {result['loadavg_start']} -> {result['loadavg_end']}; JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
