"""The native stack's programs as its supervisord sees them, for scripts/stack.

Talks to the supervisord of ``$STACK_DIR`` over its XML-RPC socket
(``$STACK_DIR/run/supervisor.sock``, the interface supervisorctl uses), so
states and pids come as data, not parsed from supervisorctl's text::

    programs.py status SERVICE...   one line per service; exit 3 if one of SERVICE... is down
    programs.py pid SERVICE         its pid; exit 1 when it does not run
    programs.py wait SERVICE...     until each answers its health check; exit 1 (log tail) if one exits or times out
    programs.py down                stop every program at once, then supervisord; wait until it is gone
    programs.py idle-down           the same when no program runs (after a failed start)

Ports come from the variables scripts/stack exports (``DB_PORT``...).
Outputs and exit codes are those scripts/stack documents (docs/operations.md
"The native stack").
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

STACK_DIR = Path(os.environ["STACK_DIR"])
LOG = STACK_DIR / "log"
SERVICES = ("db", "redis", "idp", "backend", "backend2", "notes", "frontend", "gateway", "gateway2")
PORT_VARIABLE = {"db": "DB_PORT", "redis": "REDIS_PORT", "idp": "DEV_IDP_PORT", "backend": "BACKEND_PORT",
                 "backend2": "BACKEND2_PORT", "notes": "NOTES_PORT", "frontend": "FRONTEND_PORT",
                 "gateway": "GATEWAY_PORT", "gateway2": "GATEWAY2_PORT"}
#: HTTP health path of each web service (db and redis answer a ping).
HEALTH_PATH = {"idp": "/health", "backend": "/api/health/ready", "backend2": "/api/health/ready",
               "notes": "/readyz", "frontend": "/", "gateway": "/api/health", "gateway2": "/api/health"}
#: Start-up timeout of each service, seconds.
TIMEOUT = {"db": 60, "redis": 20, "idp": 20, "backend": 120, "backend2": 120, "notes": 90, "frontend": 10,
           "gateway": 20, "gateway2": 20}


def say(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr)


def port(service: str) -> int:
    return int(os.environ[PORT_VARIABLE[service]])


def supervisor():
    """The ``supervisor`` namespace of this stack's XML-RPC interface (calls raise OSError when it is not running)."""
    url = f"unix://{STACK_DIR / 'run' / 'supervisor.sock'}"
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, url)).supervisor


def running(rpc) -> dict[str, int]:
    """{program: pid} of the programs in state RUNNING; {} when supervisord does not answer."""
    try:
        return {info["name"]: info["pid"] for info in rpc.getAllProcessInfo() if info["statename"] == "RUNNING"}
    except (OSError, xmlrpc.client.Fault):  # not running, or shutting down
        return {}


def healthy(service: str) -> bool:
    """Whether ``service`` answers: a MariaDB or Redis ping, else HTTP 2xx/3xx on its health path (2 s timeout)."""
    import redis  # here, not at the top: only waits need them, and their import is slow for `status`
    import requests

    try:
        if service == "db":  # over the socket as this OS account (unix_socket authentication)
            ping = ["mariadb-admin", f"--defaults-file={STACK_DIR / 'my.cnf'}",
                    f"--user={pwd.getpwuid(os.geteuid()).pw_name}", "ping"]
            return subprocess.run(ping, check=False, capture_output=True, timeout=5).returncode == 0
        if service == "redis":
            return redis.Redis(host="127.0.0.1", port=port(service), socket_timeout=2).ping()
        # Not following redirects: with its TLS listener on, the gateway's
        # plain port answers 308 to the https PUBLIC_URL, whose certificate
        # this check has no reason to trust.
        return requests.get(f"http://127.0.0.1:{port(service)}{HEALTH_PATH[service]}", timeout=2,
                            allow_redirects=False).ok
    except (OSError, subprocess.TimeoutExpired, redis.RedisError, requests.RequestException):
        return False


def fail(service: str, why: str) -> None:
    """Report why ``service`` did not come up with the last 40 lines of its logs; exit 1."""
    say(f"{service} {why}; last lines of {LOG / service}.log:")
    for log in (LOG / f"{service}.log", LOG / f"{service}-error.log"):
        if log.is_file():
            lines = log.read_text(errors="replace").splitlines()[-40:]
            print(f"==> {log} <==", *lines, sep="\n", file=sys.stderr)
    sys.exit(1)


def wait(rpc, services: list[str]) -> None:
    """Return once each of ``services`` answers its health check; fail as soon as one stops running."""
    for service in services:
        deadline = time.monotonic() + TIMEOUT[service]
        while not healthy(service):
            if service not in running(rpc):
                fail(service, "exited during start-up")
            if time.monotonic() > deadline:
                fail(service, f"not healthy after {TIMEOUT[service]}s")
            time.sleep(0.2)


def gone(pid: int, timeout: float) -> None:
    """Wait at most ``timeout`` seconds until process ``pid`` has ended (a zombie has)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.1)


def down(rpc, only_if_idle: bool = False) -> None:
    """Stop every program at once (TERM, KILL of its process group after stopwaitsecs), then supervisord.

    ``supervisor.shutdown`` alone would stop one program a second; a frozen
    program is thawed first, since a stopped process cannot handle TERM.
    """
    try:
        pid = rpc.getPID()
    except OSError:
        if not only_if_idle:
            say("not running")
        return
    programs = running(rpc)
    if only_if_idle and programs:
        return
    for group in programs.values():
        try:
            os.killpg(group, signal.SIGCONT)
        except ProcessLookupError:
            pass
    rpc.stopAllProcesses()
    rpc.shutdown()
    gone(pid, 10 if only_if_idle else 120)
    if not only_if_idle:
        say(f"stopped supervisord (pid {pid}) and its programs")


def status(rpc, wanted: list[str]) -> int:
    """Print each service's line (up with pid and port, off, down); return 3 if one of ``wanted`` is down."""
    pids, code = running(rpc), 0
    for service in SERVICES:
        if service in pids:
            print(f"{service:<9} up    pid {pids[service]:<7} port {port(service)}")
        elif service == "idp" and os.environ.get("GOOGLE_CLIENT_ID"):
            print(f"{service:<9} off   (GOOGLE_CLIENT_ID is set)")
        elif service in wanted:
            print(f"{service:<9} down  {'':<11} port {port(service)}")
            code = 3
    return code


def main(command: str, *services: str) -> int:
    rpc = supervisor()
    if command == "status":
        return status(rpc, list(services))
    if command == "pid":
        pid = running(rpc).get(services[0])
        if pid:
            print(pid)
        return 0 if pid else 1
    if command == "wait":
        wait(rpc, list(services))
    elif command in ("down", "idle-down"):
        down(rpc, only_if_idle=command == "idle-down")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
