"""The production stack of docker-compose.yaml, run on loopback without a Docker engine.

PostgreSQL and Redis are Debian's servers (``make cluster-deps`` installs them); the
Airflow components run from this checkout with the environment and the commands of their
compose services. Only what a container would provide is replaced: host names become
loopback ports, the shared volume a temp folder, secrets fresh random values.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import psutil
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SERVER_BINARIES = ("initdb", "postgres", "redis-server")


def find_binary(name: str) -> str | None:
    """Debian keeps the PostgreSQL server programs off PATH, under a versioned folder."""
    versioned = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return versioned[0] if versioned else shutil.which(name)


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's variable syntax: ``$$``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``
    (and the forms without ``:``, which test for unset only)."""

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2) or "", match.group(3) or ""
        value = variables.get(name)
        missing = value is None or (op.startswith(":") and value == "")
        if missing and op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        if missing and op.endswith("-"):
            return arg
        return value or ""

    return _VARIABLE.sub(substitute, text)


def load_compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())


def secrets_for_env_file() -> dict[str, str]:
    """Every variable of .env.example, filled in the way its comments say."""
    from cryptography.fernet import Fernet

    values = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, default = line.split("=", 1)
            values[key.strip()] = default.strip() or secrets.token_urlsafe(24)
    values["AIRFLOW_FERNET_KEY"] = Fernet.generate_key().decode()
    return values


class Processes:
    """Every process a test starts, each in a session of its own (so a component and all
    its children go together), stopped by process group when the block ends, also on
    failure."""

    def __init__(self, log_dir: Path, stop_signal: int = signal.SIGTERM, grace: float = 20):
        self.log_dir = log_dir
        self.stop_signal, self.grace = stop_signal, grace
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list[IO[bytes]] = []
        self.killed: set[str] = set()
        self.temp_dirs: list[Path] = []
        self.finite: set[str] = set()

    def start(self, name: str, argv: list[str], env: dict[str, str], finite: bool = False,
              **kwargs: Any) -> subprocess.Popen:  # fmt: skip
        """Start ``name``, logging to ``<log_dir>/<name>.log``; ``finite``: it is expected
        to exit, and only a non-zero exit counts as a failure."""
        if finite:
            self.finite.add(name)
        log = (self.log_dir / f"{name}.log").open("ab")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        return self.procs[name]

    def alive(self) -> None:
        """Fail at once, naming the log to read, when a component died on its own."""
        for name, proc in self.procs.items():
            code = proc.poll()
            if name in self.killed or code is None or (name in self.finite and code == 0):
                continue
            raise AssertionError(f"{name} exited with {code}; see {self.log_dir / name}.log")

    def kill(self, name: str) -> None:
        """SIGKILL a component and every process under it, as when its machine dies.
        Task processes run in process groups of their own, so the group is not enough."""
        self.killed.add(name)
        _kill_tree(self.procs[name])
        self.procs[name].wait()

    def stop_all(self) -> None:
        """Ask every group to stop, wait up to ``grace`` seconds, then SIGKILL what is left."""
        trees = {name: _descendants(proc) for name, proc in self.procs.items()}
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, self.stop_signal)
        deadline = time.monotonic() + self.grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for name, proc in self.procs.items():
            _kill_tree(proc, trees[name])
            proc.wait()
        for log in self.logs:
            log.close()
        for folder in self.temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def _descendants(proc: subprocess.Popen) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(proc.pid).children(recursive=True)
    return []


def _kill_tree(proc: subprocess.Popen, known: list[psutil.Process] | None = None) -> None:
    """SIGKILL ``proc``'s group and every descendant, also those seen earlier (``known``)
    that were re-parented when their parent died."""
    victims = {p.pid: p for p in [*(known or []), *_descendants(proc)]}
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for victim in victims.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()  # checks the process is still the one seen (create time)


def _wait(check, timeout: float, what: str, procs: Processes) -> None:
    deadline = time.monotonic() + timeout
    while True:
        procs.alive()
        try:
            if check():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.5)


def start_postgres(procs: Processes, port: int, user: str, password: str, database: str) -> None:
    """A throw-away PostgreSQL cluster on 127.0.0.1:``port`` with password auth.

    PostgreSQL refuses to run as root: as root, it runs as Debian's ``postgres`` user in
    a folder that user owns (outside pytest's root-only temp tree)."""
    import psycopg2

    as_root = os.geteuid() == 0
    data = Path(tempfile.mkdtemp(prefix="sqid-postgres-"))
    procs.temp_dirs.append(data)
    (data / "pw").write_text(password)
    if as_root:
        shutil.chown(data, "postgres")
        shutil.chown(data / "pw", "postgres")
    run_as = {"user": "postgres"} if as_root else {}
    subprocess.run(
        [find_binary("initdb"), "-D", str(data / "db"), "-U", user, f"--pwfile={data / 'pw'}",
         "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True, **run_as,
    )  # fmt: skip
    procs.start(
        "postgres",
        [find_binary("postgres"), "-D", str(data / "db"), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}",
         "-c", "fsync=off", "-c", "max_connections=200"],
        env={**os.environ}, **run_as,
    )  # fmt: skip

    def connect(dbname: str):
        return psycopg2.connect(
            host="127.0.0.1", port=port, user=user, password=password, dbname=dbname
        )

    _wait(lambda: connect("postgres").close() or True, 60, "PostgreSQL", procs)
    con = connect("postgres")
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{database}"')  # a fixed name from .env.example
    con.close()


def start_redis(procs: Processes, port: int, password: str) -> None:
    import redis

    procs.start(
        "redis",
        [find_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
         "--requirepass", password, "--save", "", "--appendonly", "no",
         "--dir", str(procs.log_dir)],
        env={**os.environ},
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, password=password)
    _wait(client.ping, 30, "Redis", procs)


def loopback_environment(
    compose: dict[str, Any], variables: dict[str, str], ports: dict[str, int], data_dir: Path
) -> dict[str, str]:
    """The compose services' shared environment with their host names on loopback."""
    hosts = {
        "@postgres/": f"@127.0.0.1:{ports['postgres']}/",
        "@redis:6379/": f"@127.0.0.1:{ports['redis']}/",
        "//airflow-apiserver:8080/": f"//127.0.0.1:{ports['api']}/",
        "/data/sqid": str(data_dir),
    }
    env = {}
    for key, value in compose["x-airflow-common"]["environment"].items():
        value = interpolate(str(value), variables)
        for name, local in hosts.items():
            value = value.replace(name, local)
        env[key] = value
    leftovers = [k for k, v in env.items() if re.search(r"@(postgres|redis)\b|airflow-api", v)]
    assert not leftovers, f"compose host names not mapped to loopback in {leftovers}"
    return env


def service_argv(compose: dict[str, Any], service: str, **overrides: str) -> list[str]:
    """``airflow <command>`` of a compose service (the image's entrypoint is ``airflow``),
    with option values replaced, e.g. ``concurrency="2"``."""
    command = [str(part) for part in compose["services"][service]["command"]]
    for option, value in overrides.items():
        flag = f"--{option.replace('_', '-')}"
        if flag in command:
            command[command.index(flag) + 1] = value
        else:
            command += [flag, value]
    return [str(VENV_BIN / "airflow"), *command]


def init_script(compose: dict[str, Any], variables: dict[str, str]) -> list[str]:
    """``airflow-init``'s bash script, interpolated as compose would."""
    service = compose["services"]["airflow-init"]
    assert service["entrypoint"] == "/bin/bash"
    return ["bash", *(interpolate(str(part), variables) for part in service["command"])]
