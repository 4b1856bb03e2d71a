#!/usr/bin/env python3
"""authgw soak: a steady mixed load for a long while, watching for leaks and drift.

``bench/run --soak`` brings up its own native stack (``scripts/stack up``
with state in ``.stack-soak/`` and ports 47xxx, apart from the bench's),
signs in a pool of users and an admin, measures the capacity of the mixed
load (closed loop, every client as fast as it can), then runs the same mix
paced at ``--fraction`` (default one half) of that capacity for
``--minutes`` (default 10) after ``--warmup`` seconds. The mix, per
operation:

- protected reads: ``GET /api/me``, ``GET /api/ping``, ``GET /api/notes``;
- refreshes: ``POST /api/auth/refresh`` with the refresh cookie (rotation);
- notes writes: ``POST /api/notes`` then ``DELETE`` of that note (the table
  stays the same size, so reads stay comparable over time);
- admin reads: ``GET /api/admin/users`` with an admin's token;
- sign-ins: the whole browser flow (login, dev IdP, callback).

Every ``--sample`` seconds it records, for every process of every service
(gunicorn workers and nginx workers one by one): RSS, open file
descriptors and open sockets. At the end it prints a table and exits 1
unless: no unexpected status, the median minute p99 of the second half
stays within ``--p99-factor`` of the first half's (stable, no upward
drift), every process's RSS ends within +10 % of its value after the
warm-up, and no service's descriptors or sockets (summed over its
processes) climb (every sample of the last third above every sample of the
first third, plus a small slack for keep-alive connections that come and
go with the load). Before the
warm-up, ``--prefill`` seconds of refreshes, each new access token then
sent once to ``GET /api/ping`` and ``GET /api/notes``, fill the bounded token caches of the
gateway, the backend (``GET /api/ping``) and notes (``GET /api/notes``):
they cache checked tokens only, and their filling is not a leak.
Figures of a run: docs/performance.md "Soak".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import queue as queue_mod
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the bench's stack helpers and process accounting)

REPO = bench.REPO
STACK_DIR = REPO / ".stack-soak"
PORTS = {"GATEWAY_PORT": "47080", "BACKEND_PORT": "47000", "FRONTEND_PORT": "47081", "DEV_IDP_PORT": "47900",
         "DB_PORT": "47307", "REDIS_PORT": "47379", "NOTES_PORT": "47200"}
GATEWAY = f"http://localhost:{PORTS['GATEWAY_PORT']}"  # PUBLIC_URL: the login-state cookie is for this host
ADMIN_EMAIL = "soak-admin@example.com"
#: Operation -> weight in the mix.
MIX = {"me": 20, "ping": 15, "notes_read": 15, "refresh": 15, "notes_write": 15, "admin_read": 10, "signin": 10}
#: Statuses each request of an operation may get; anything else is unexpected.
EXPECTED = {"me": {200}, "ping": {200}, "notes_read": {200}, "refresh": {200}, "refresh_use": {200}, "notes_write": {201, 204},
            "admin_read": {200}, "signin": {302, 303}}
RSS_GROWTH_MAX = 0.10
FD_SLACK = 4  # descriptors a process may end above its post-warm-up count (keep-alive connections)


def log(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


def configure_stack() -> None:
    """Point bench.py's stack helpers at the soak's own stack."""
    bench.STACK_DIR = STACK_DIR
    bench.STACK_ENV.update(PORTS, STACK_DIR=str(STACK_DIR), PUBLIC_URL=f"http://localhost:{PORTS['GATEWAY_PORT']}",
                           ADMIN_EMAILS=ADMIN_EMAIL, GOOGLE_CLIENT_SECRET_FILE=str(STACK_DIR / "no-google-client.json"))
    bench.PIDFILES.clear()


@contextlib.contextmanager
def database():
    """A connection to the soak stack's MariaDB (the backend's account), closed after use."""
    eng = bench.engine(bench.stack_settings())
    try:
        with eng.connect() as conn:
            yield conn
    finally:
        eng.dispose()


def buffer_pool(conn) -> dict:
    """MariaDB's buffer pool now: configured size and the data it holds (MB)."""
    import sqlalchemy as sa

    size = conn.execute(sa.text("SELECT @@innodb_buffer_pool_size")).scalar()
    held = conn.execute(sa.text("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_bytes_data'")).one()[1]
    return {"pool_mb": round(int(size) / 2**20), "data_mb": round(int(held) / 2**20, 1)}


def warm_database() -> dict:
    """Read every index of the stack's databases once (``COUNT(*)`` forced
    through each index), so that MariaDB's buffer pool, a cache bounded by
    ``innodb_buffer_pool_size``, holds what the load will make it hold before
    the baseline is taken, as the prefill does for the token caches.

    Returns:
        dict: ``{"indexes": n, "pool_mb": ..., "data_mb": ...}`` after the reads.
    """
    import sqlalchemy as sa

    with database() as conn:
        rows = conn.execute(sa.text(
            "SELECT DISTINCT table_schema, table_name, index_name FROM information_schema.statistics "
            "WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')")).all()
        for schema, table, index in rows:
            conn.execute(sa.text(f"SELECT COUNT(*) FROM `{schema}`.`{table}` FORCE INDEX (`{index}`)"))
        return {"indexes": len(rows), **buffer_pool(conn)}


# --- clients -----------------------------------------------------------------

class Client:
    """One signed-in browser-like user (refresh cookie in its session), used by one thread only."""

    def __init__(self, email: str):
        import requests

        self.email = email
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "authgw-soak"
        self.token = ""

    def sign_in(self) -> list[int]:
        """The browser flow; statuses of its requests (the token kept on success)."""
        statuses, token = bench.browser_sign_in(self.http, GATEWAY, self.email, timeout=15)
        if token:
            self.token = token
        return statuses

    def _auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def run(self, op: str, admin: "Client") -> list[int]:
        """Do one operation of the mix; the statuses of its requests."""
        get = self.http.get
        if op == "me":
            return [get(f"{GATEWAY}/api/me", headers=self._auth(), timeout=15).status_code]
        if op == "ping":
            return [get(f"{GATEWAY}/api/ping", headers=self._auth(), timeout=15).status_code]
        if op == "notes_read":
            return [get(f"{GATEWAY}/api/notes", headers=self._auth(), timeout=15).status_code]
        if op == "admin_read":
            return [get(f"{GATEWAY}/api/admin/users", headers=admin._auth(), params={"per_page": 20},
                        timeout=15).status_code]
        if op == "refresh":
            answer = self.http.post(f"{GATEWAY}/api/auth/refresh", headers={"Origin": GATEWAY}, timeout=15)
            if answer.status_code == 200:
                self.token = answer.json()["access_token"]
            return [answer.status_code]
        if op == "refresh_use":  # prefill: a new token, checked once by the gateway, the backend and notes
            statuses = self.run("refresh", admin)
            if statuses != [200]:
                return statuses
            return [200, get(f"{GATEWAY}/api/ping", headers=self._auth(), timeout=15).status_code,
                    get(f"{GATEWAY}/api/notes", headers=self._auth(), timeout=15).status_code]
        if op == "notes_write":
            created = self.http.post(f"{GATEWAY}/api/notes", headers=self._auth(), json={"title": "soak"},
                                     timeout=15)
            if created.status_code != 201:
                return [created.status_code]
            deleted = self.http.delete(f"{GATEWAY}/api/notes/{created.json()['id']}", headers=self._auth(),
                                       timeout=15)
            return [201, deleted.status_code]
        if op == "signin":
            return self.sign_in()
        raise ValueError(op)


def _thread_loop(emails: list[str], stop_at: float, interval: float | None,
                 results: "mp.Queue", seed: int, mix: dict[str, int]) -> None:
    import requests

    rnd = random.Random(seed)
    ops = [op for op, weight in mix.items() for _ in range(weight)]
    users = [Client(e) for e in emails]
    admin = Client(ADMIN_EMAIL)
    for client in [admin, *users]:
        client.sign_in()
    batch, next_at = [], time.monotonic() + rnd.random() * (interval or 0)
    last_flush = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        if interval is not None:
            if next_at > now:
                time.sleep(min(next_at - now, stop_at - now))
                continue
            next_at += interval
            if next_at < now - 5 * interval:  # fell far behind (a stall): do not burst to catch up
                next_at = now
        op = rnd.choice(ops)
        user = rnd.choice(users)
        started = time.monotonic()
        try:
            statuses = user.run(op, admin)
        except (requests.RequestException, KeyError, ValueError) as exc:
            statuses = [f"{type(exc).__name__}"]
        batch.append((time.time(), op, time.monotonic() - started, statuses))
        if time.monotonic() - last_flush > 1.0:
            results.put(batch)
            batch, last_flush = [], time.monotonic()
    results.put(batch)


def _process_main(proc_no: int, threads: int, emails: list[str], stop_at_wall: float, interval: float | None,
                  results: "mp.Queue", mix: dict[str, int]) -> None:
    stop_at = time.monotonic() + (stop_at_wall - time.time())
    per_thread = max(1, len(emails) // threads)
    workers = [threading.Thread(target=_thread_loop, args=(
        emails[t * per_thread:(t + 1) * per_thread] or emails[:1], stop_at, interval, results,
        proc_no * 1000 + t, mix)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def run_load(seconds: float, processes: int, threads: int, users: int, rate: float | None,
             on_sample=None, sample_every: float = 30.0, mix: dict[str, int] = MIX) -> list[tuple]:
    """Run the mix for ``seconds`` (closed loop when ``rate`` is None, else ``rate`` operations/s in all);
    call ``on_sample(elapsed)`` every ``sample_every`` seconds; return every sample
    ``(wall_time, op, seconds, statuses)``."""
    total_threads = processes * threads
    interval = None if rate is None else total_threads / rate
    results: mp.Queue = mp.Queue()
    start_wall = time.time() + 6.0  # sign-ins of each thread's users happen before the clock starts counting
    stop_wall = start_wall + seconds
    emails = [f"soak-{i}@example.com" for i in range(users)]
    per_proc = max(1, users // processes)
    procs = [mp.Process(target=_process_main, args=(p, threads, emails[p * per_proc:(p + 1) * per_proc],
                                                    stop_wall, interval, results, mix)) for p in range(processes)]
    for p in procs:
        p.start()
    samples: list[tuple] = []
    next_sample = start_wall + sample_every
    while any(p.is_alive() for p in procs) or not results.empty():
        try:
            samples.extend(results.get(timeout=0.5))
        except queue_mod.Empty:
            pass
        if on_sample and time.time() >= next_sample and time.time() < stop_wall:
            on_sample(time.time() - start_wall)
            next_sample += sample_every
    for p in procs:
        p.join()
    return [s for s in samples if s[0] >= start_wall]


# --- processes ---------------------------------------------------------------

def _count_fds(pid: int) -> tuple[int, int]:
    """(open descriptors, of which sockets) of ``pid``; (-1, -1) when it cannot be read."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return -1, -1
    return len(links), sum(1 for link in links if link.startswith("socket:"))


def process_snapshot() -> dict[str, dict]:
    """``{"service/pid": {"rss_mb", "fds", "sockets", "cmd"}}`` for every process of the stack."""
    out = {}
    for service, report in bench.memory_report().items():
        for proc in [report["main"], *report["children"]]:
            fds, sockets = _count_fds(proc["pid"])
            out[f"{service}/{proc['pid']}"] = {"rss_mb": proc["rss_mb"], "fds": fds, "sockets": sockets,
                                               "cmd": proc["cmd"][:60]}
    return out


# --- report ------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def analyse(samples: list[tuple], start_wall: float, snapshots: list[tuple[float, dict]], args) -> dict:
    """Windows, statuses, per-process drift and the verdicts."""
    unexpected: dict[str, int] = {}
    per_op: dict[str, list[float]] = {op: [] for op in MIX}
    windows: dict[int, list[float]] = {}
    for wall, op, seconds, statuses in samples:
        per_op[op].append(seconds)
        windows.setdefault(int((wall - start_wall) // 60), []).append(seconds)
        for status in statuses:
            if status not in EXPECTED[op]:
                key = f"{op}:{status}"
                unexpected[key] = unexpected.get(key, 0) + 1
    window_p99 = [round(percentile(windows[w], 0.99) * 1000, 1) for w in sorted(windows) if len(windows[w]) > 20]
    half = len(window_p99) // 2
    p99_halves = (statistics.median(window_p99[:half] or [0]), statistics.median(window_p99[half:] or [0]))
    first, last = snapshots[0][1], snapshots[-1][1]
    third = max(1, len(snapshots) // 3)

    def grows(series: list[int]) -> bool:
        # A leak climbs: every late sample above every early one (plus slack);
        # keep-alive connections coming and going with the load do not.
        return min(series[-third:]) > max(series[:third]) + FD_SLACK
    drift = []
    for key, before in first.items():
        after = last.get(key)
        if after is None:
            drift.append({"process": key, "problem": "gone (restarted?)"})
            continue
        growth = (after["rss_mb"] - before["rss_mb"]) / before["rss_mb"] if before["rss_mb"] else 0.0
        drift.append({"process": key, "cmd": before["cmd"], "rss_before": before["rss_mb"],
                      "rss_after": after["rss_mb"], "rss_growth": round(growth, 3),
                      "rss_peak": max(s[1].get(key, before)["rss_mb"] for s in snapshots),
                      "fds_before": before["fds"], "fds_after": after["fds"],
                      "sockets_before": before["sockets"], "sockets_after": after["sockets"],
                      "rss_series": [s[1][key]["rss_mb"] for s in snapshots if key in s[1]],
                      "fds_series": [s[1][key]["fds"] for s in snapshots if key in s[1]]})
    # Descriptors and sockets are judged per service, summed over its
    # processes: the kernel hands new connections to whichever nginx or
    # gunicorn worker accepts first, so one worker's count moves with that
    # balance while a leak grows the sum.
    services = sorted({key.split("/")[0] for key in first})
    totals = {}
    for service in services:
        entry = {}
        for field in ("fds", "sockets"):
            series = [sum(v[field] for k, v in snap.items() if k.split("/")[0] == service) for _, snap in snapshots]
            entry[f"{field}_series"] = series
            entry[f"{field}_grow"] = grows(series)
        totals[service] = entry
    ops_per_s = len(samples) / args.minutes / 60
    checks = {
        "no unexpected status": not unexpected,
        f"p99 stable: median minute p99 of the second half <= {args.p99_factor} x the first half's":
            bool(window_p99) and p99_halves[1] <= args.p99_factor * p99_halves[0],
        "RSS of every process within +10 % of its post-warm-up value": all(
            "problem" not in d and d["rss_growth"] <= RSS_GROWTH_MAX for d in drift),
        f"no growth of descriptors or sockets per service (last third of samples vs first third, slack "
        f"{FD_SLACK})": all("problem" not in d for d in drift)
        and not any(t["fds_grow"] or t["sockets_grow"] for t in totals.values()),
    }
    return {"operations": len(samples), "ops_per_s": round(ops_per_s, 1), "unexpected": unexpected,
            "service_totals": totals,
            "latency_ms": {op: {"n": len(v), "p50": round(percentile(v, 0.5) * 1000, 1),
                                "p99": round(percentile(v, 0.99) * 1000, 1)} for op, v in per_op.items()},
            "window_p99_ms": window_p99, "p99_halves_ms": p99_halves, "processes": drift, "checks": checks}


def print_report(result: dict) -> None:
    a = result["analysis"]
    print(f"\nsoak: {result['minutes']} min at {result['target_ops_per_s']:.1f} ops/s "
          f"(capacity {result['capacity_ops_per_s']:.1f} ops/s x {result['fraction']}), "
          f"achieved {a['ops_per_s']} ops/s, {a['operations']} operations, load average "
          f"{result['loadavg_before']} -> {result['loadavg_after']}")
    print(f"\n{'operation':<12} {'n':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for op, v in a["latency_ms"].items():
        print(f"{op:<12} {v['n']:>7} {v['p50']:>8} {v['p99']:>8}")
    print(f"\np99 per minute (ms, all operations): {a['window_p99_ms']}; median of each half {a['p99_halves_ms']}")
    print(f"unexpected statuses: {a['unexpected'] or 'none'}")
    print(f"\n{'process':<20} {'RSS MB after warm-up':>20} {'end':>7} {'growth':>7} {'peak':>7} "
          f"{'fds':>9} {'sockets':>9}  command")
    for d in a["processes"]:
        if "problem" in d:
            print(f"{d['process']:<20} {d['problem']}")
            continue
        print(f"{d['process']:<20} {d['rss_before']:>20} {d['rss_after']:>7} {d['rss_growth'] * 100:>6.1f}% "
              f"{d['rss_peak']:>7} {str(d['fds_before']) + '>' + str(d['fds_after']):>9} "
              f"{str(d['sockets_before']) + '>' + str(d['sockets_after']):>9}  {d['cmd']}")
    print(f"\n{'service (sum of its processes)':<32} {'fds first > last sample':>24} {'sockets':>10}")
    for name, t in a.get("service_totals", {}).items():
        print(f"{name:<32} {str(t['fds_series'][0]) + ' > ' + str(t['fds_series'][-1]):>24} "
              f"{str(t['sockets_series'][0]) + ' > ' + str(t['sockets_series'][-1]):>10}"
              f"{'  GROWS' if t['fds_grow'] or t['sockets_grow'] else ''}")
    print()
    for name, ok in a["checks"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length after the warm-up (default 10)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds of load before the baseline (default 60)")
    parser.add_argument("--fraction", type=float, default=0.5, help="share of the measured capacity (default 0.5)")
    parser.add_argument("--capacity-seconds", type=float, default=20.0, help="length of the capacity run")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per client process (default 8)")
    parser.add_argument("--users", type=int, default=64, help="signed-in users in the pool (default 64)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between process samples")
    parser.add_argument("--p99-factor", type=float, default=1.5,
                        help="allowed median minute p99 of the second half / the first half's (default 1.5)")
    parser.add_argument("--prefill", type=float, default=150.0,
                        help="seconds of refreshes as fast as possible before the warm-up, so that the bounded "
                             "token caches (gateway, backend) are full when the baseline is taken (default 150)")
    parser.add_argument("--keep", action="store_true", help="leave the soak stack running afterwards")
    parser.add_argument("--no-stack", action="store_true", help="the soak stack is already up")
    parser.add_argument("--json", default=None, help="write the JSON here (default bench/results/soak-<ts>.json)")
    args = parser.parse_args()
    configure_stack()
    if not args.no_stack:
        log("scripts/stack up (.stack-soak)")
        bench.stack("up")
    try:
        log(f"capacity: closed loop, {args.processes} x {args.threads} clients, {args.capacity_seconds:.0f} s")
        capacity_samples = run_load(args.capacity_seconds, args.processes, args.threads, args.users, None)
        capacity = len(capacity_samples) / args.capacity_seconds
        target = capacity * args.fraction
        log(f"capacity {capacity:.1f} ops/s; soak at {target:.1f} ops/s: {args.warmup:.0f} s warm-up, "
            f"{args.minutes} min measured")
        if args.prefill:
            log(f"prefill: {args.prefill:.0f} s of refreshes (fills the token caches)")
            minted = run_load(args.prefill, args.processes, args.threads, args.users, None,
                              mix={"refresh_use": 1})
            log(f"prefill: {len(minted)} tokens minted")
            log(f"prefill: every index read once (MariaDB buffer pool): {warm_database()}")
        snapshots: list[tuple[float, dict]] = []
        loadavg_before = bench.loadavg()

        def on_sample(elapsed: float) -> None:
            if elapsed >= args.warmup - 1:
                snapshots.append((elapsed, process_snapshot()))
                log(f"{elapsed:5.0f} s: sampled {len(snapshots[-1][1])} processes")

        total = args.warmup + args.minutes * 60
        # The first sample lands right at the end of the warm-up.
        samples = run_load(total, args.processes, args.threads, args.users, target, on_sample,
                           sample_every=min(args.sample, args.warmup) if args.warmup else args.sample)
        # The last sample was taken under load, like the first: idle keep-alive
        # connections closing after the load would hide a leak.
        start_wall = min(s[0] for s in samples)
        measured = [s for s in samples if s[0] >= start_wall + args.warmup]
        with database() as conn:
            pool_end = buffer_pool(conn)
        log(f"MariaDB buffer pool at the end: {pool_end}")
        result = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "minutes": args.minutes,
                  "buffer_pool_end": pool_end,
                  "fraction": args.fraction, "capacity_ops_per_s": capacity, "target_ops_per_s": target,
                  "loadavg_before": loadavg_before, "loadavg_after": bench.loadavg(),
                  "mix": MIX, "machine": bench.machine_info()}
        result["analysis"] = analyse(measured, start_wall + args.warmup, snapshots, args)
    finally:
        if not args.no_stack and not args.keep:
            bench.stack("down", check=False)
    out = Path(args.json) if args.json else bench.RESULTS_DIR / f"soak-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print_report(result)
    log(f"JSON: {out}")
    return 0 if all(result["analysis"]["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
