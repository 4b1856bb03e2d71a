"""``scripts/stack`` runs the native stack under one supervisord.

What ``up`` started is what ``status`` reports and what ``down`` stops
(nothing else), one service restarts alone, ``status`` exits 3 while a
service is down, and the fault helpers (``pid``, ``kill``, ``freeze``,
``thaw``) act on the real processes. These tests use the running test stack
(``scripts/test`` brought it up) and, for ``down``, a second small stack of
their own in a temporary folder.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from stacklib import ROOT, free_port, stack, wait_until

STACK_DIR = Path(os.environ.get("STACK_DIR", ROOT / ".stack"))
#: Service -> the variable holding its port (the services every test stack runs).
PORTS = {"db": "DB_PORT", "redis": "REDIS_PORT", "idp": "DEV_IDP_PORT", "backend": "BACKEND_PORT",
         "frontend": "FRONTEND_PORT", "gateway": "GATEWAY_PORT"}


def status(env: dict | None = None) -> tuple[int, dict[str, dict]]:
    """Run ``scripts/stack status``; return its exit code and
    {service: {"state", "pid", "port"}} parsed from its lines."""
    result = stack("status", env=env, check=False)
    table = {}
    for line in result.stdout.splitlines():
        words = line.split()
        row = {"state": words[1], "pid": None, "port": None}
        if "pid" in words:
            row["pid"] = int(words[words.index("pid") + 1])
        if "port" in words:
            row["port"] = int(words[words.index("port") + 1])
        table[words[0]] = row
    return result.returncode, table


def parent_of(pid: int) -> int:
    """The parent pid of process ``pid`` (``/proc/<pid>/stat`` field 4)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (``T`` stopped, ``Z`` zombie...), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def supervisord_pid(stack_dir: Path) -> int:
    return int((stack_dir / "run" / "supervisord.pid").read_text().strip())


def frontend_answers(timeout: float = 2) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{os.environ['FRONTEND_PORT']}/", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def test_status_reports_each_service_up_with_its_pid_and_port_and_exits_0(base_url):
    code, table = status()
    assert code == 0, table
    supervisor = supervisord_pid(STACK_DIR)
    for service, variable in PORTS.items():
        row = table[service]
        assert row["state"] == "up", (service, row)
        assert row["port"] == int(os.environ[variable]), (service, row)
        # Started by this stack's supervisord, whose pid file lives in STACK_DIR.
        assert parent_of(row["pid"]) == supervisor, service
        assert stack("pid", service).stdout.strip() == str(row["pid"])


def test_restart_of_one_service_replaces_only_that_process(base_url):
    _, before = status()
    stack("restart", "frontend")
    code, after = status()
    assert code == 0, after
    assert after["frontend"]["pid"] != before["frontend"]["pid"]
    assert process_state(before["frontend"]["pid"]) is None, "the old frontend nginx still runs"
    assert {s: r["pid"] for s, r in after.items() if s != "frontend"} == \
        {s: r["pid"] for s, r in before.items() if s != "frontend"}
    assert frontend_answers()
    assert requests.get(f"{base_url}/", timeout=10).status_code == 200


def test_status_exits_3_while_a_killed_service_is_down_until_start(base_url):
    _, before = status()
    old = before["frontend"]["pid"]
    stack("kill", "frontend")
    try:
        down, _ = wait_until(lambda: status()[0] == 3, timeout=10)
        assert down, "status still exits 0 with the frontend killed"
        _, table = status()
        assert table["frontend"]["state"] == "down", table
        assert table["gateway"]["state"] == "up"
        assert stack("pid", "frontend", check=False).returncode == 1
        gone, _ = wait_until(lambda: process_state(old) is None, timeout=5)
        assert gone, "SIGKILL did not end the frontend nginx"
        assert not frontend_answers(timeout=1), "a frontend worker outlived its master"
    finally:
        stack("start", "frontend")
    code, table = status()
    assert code == 0 and table["frontend"]["pid"] != old
    assert frontend_answers()


def test_freeze_stops_a_service_and_thaw_resumes_it(base_url):
    pid = int(stack("pid", "frontend").stdout)
    stack("freeze", "frontend")
    try:
        assert process_state(pid) == "T"
        assert not frontend_answers(timeout=1), "a frozen nginx answered"
    finally:
        stack("thaw", "frontend")
    assert process_state(pid) in ("S", "R")
    assert frontend_answers()
    assert int(stack("pid", "frontend").stdout) == pid


def test_down_stops_exactly_what_that_stack_started(base_url, tmp_path):
    """A second stack (own STACK_DIR, only Redis) next to a look-alike Redis
    the test starts itself: `down` ends that stack's supervisord and its
    Redis, and neither the look-alike nor the test stack."""
    small = {"STACK_DIR": str(tmp_path / "stack"), "REDIS_PORT": str(free_port())}
    decoy = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(free_port()), "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stack("start", "redis", env=small)
        code, table = status(env=small)
        assert code == 3, "the small stack runs Redis only: the others are down"
        assert table["redis"]["state"] == "up" and table["db"]["state"] == "down"
        supervisor = supervisord_pid(tmp_path / "stack")
        redis_pid = table["redis"]["pid"]
        assert parent_of(redis_pid) == supervisor

        stack("down", env=small)
        assert process_state(supervisor) in (None, "Z")
        assert process_state(redis_pid) in (None, "Z")
        assert decoy.poll() is None, "down stopped a Redis it did not start"
        assert status()[0] == 0, "down of one stack touched another"
        again = stack("down", env=small, check=False)
        assert again.returncode == 0 and "not running" in again.stderr
    finally:
        stack("down", env=small, check=False)
        decoy.send_signal(signal.SIGTERM)
        decoy.wait(timeout=10)


def test_a_failed_start_leaves_no_supervisord_behind(base_url, tmp_path):
    """A gateway whose routes declaration is refused: `start` fails, and the
    supervisord it launched for that stack does not linger."""
    routes = tmp_path / "routes.toml"
    routes.write_text('[[service]]\nname = "x"\nprefix = "/api/x"\nupstreams = ["nowhere"]\n', encoding="utf-8")
    state = tmp_path / "stack"
    result = stack("start", "gateway", check=False, env={"STACK_DIR": str(state), "GATEWAY_PORT": str(free_port()),
                                                        "GATEWAY_ROUTES_FILE": str(routes)})
    assert result.returncode != 0
    assert not (state / "run" / "supervisor.sock").exists()
    supervisors = [pid for pid in os.listdir("/proc") if pid.isdigit() and process_state(int(pid)) not in (None, "Z")
                   and f"STACK_DIR={state}".encode() in _environ(int(pid))]
    assert not supervisors, f"supervisord {supervisors} outlived the failed start"


def test_a_failed_up_stops_what_it_started(base_url, tmp_path):
    """A second stack whose backend refuses its settings: `up` fails, and the
    database, Redis, IdP and file server it had started are stopped again, so
    no half stack keeps answering on its ports (another `up` would take them
    for its own)."""
    state = tmp_path / "stack"
    ports = {name: str(free_port()) for name in ("GATEWAY_PORT", "BACKEND_PORT", "FRONTEND_PORT", "DEV_IDP_PORT",
                                                 "DB_PORT", "REDIS_PORT", "NOTES_PORT")}
    result = stack("up", check=False, timeout=240,
                   env={"STACK_DIR": str(state), **ports, "PUBLIC_URL": f"http://localhost:{ports['GATEWAY_PORT']}",
                        "DATABASE_POOL_TIMEOUT": "-1"})
    assert result.returncode != 0
    assert "stopped what this command started: db redis" in result.stderr, result.stderr[-2000:]
    alive = [pid for pid in os.listdir("/proc") if pid.isdigit() and process_state(int(pid)) not in (None, "Z")
             and f"STACK_DIR={state}".encode() in _environ(int(pid))]
    assert not alive, f"processes of the failed stack still run: {alive}"
    assert status()[0] == 0, "the failed up touched the test stack"


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def test_dotenv_fills_in_only_what_the_environment_leaves_unset(tmp_path):
    """A checkout with a `.env` (the script and its folder copied, the venv
    linked): `env` shows the file's ports and URL, and the environment's
    STACK_DIR over the file's."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "stack", repo / "scripts" / "stack")
    shutil.copytree(ROOT / "scripts" / "stack.d", repo / "scripts" / "stack.d")
    (repo / ".venv").symlink_to(ROOT / ".venv")
    (repo / ".env").write_text("# settings of this checkout\nGATEWAY_PORT=1234\nDB_PORT=4321 # MariaDB\n"
                               "STACK_DIR=from-dotenv\nexport PUBLIC_URL='http://example.test:1234'\n", encoding="utf-8")
    state = tmp_path / "state"
    (state / "secrets").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_PORT", "DB_PORT", "PUBLIC_URL", "DATABASE_URL")}
    env["STACK_DIR"] = str(state)
    result = subprocess.run([str(repo / "scripts" / "stack"), "env"], env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    exports = dict(shlex.split(line)[1].split("=", 1) for line in result.stdout.splitlines())
    assert exports["GATEWAY_URL"] == "http://localhost:1234"
    assert exports["PUBLIC_URL"] == "http://example.test:1234"
    assert exports["DATABASE_URL"].startswith("mysql+pymysql://app:") and "@127.0.0.1:4321/auth" in exports["DATABASE_URL"]
    assert exports["STACK_DIR"] == str(state)


@pytest.mark.parametrize("command", [["start", "nosuch"], ["kill"], ["frobnicate"]])
def test_unknown_commands_and_services_get_the_usage_and_exit_2(command):
    result = stack(*command, check=False)
    assert result.returncode == 2
    assert "scripts/stack up" in result.stderr
