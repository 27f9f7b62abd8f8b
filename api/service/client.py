"""Client-side helpers for the HTTP API and its processes (used by the tests and the benchmarks).

Uploads, a ``binroute serve`` on a free port, a throwaway ``redis-server``
broker and ``binroute worker`` processes, all on this machine's loopback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BOUNDARY = "binroute-form-boundary"


def multipart_body(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its content type, as any HTTP client would send it."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for field, (filename, content) in files.items():
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


def scenario_upload(name: str, folder: str | Path, *, readings: bool = True) -> tuple[bytes, str]:
    """The upload for ``POST /api/v1/scenarios`` from a scenario directory (``network.osm.pbf`` inside)."""
    folder = Path(folder)
    files = {
        "fleet": ("fleet.json", (folder / "fleet.json").read_bytes()),
        "bins": ("bins.csv", (folder / "bins.csv").read_bytes()),
        "network": ("network.osm.pbf", (folder / "network.osm.pbf").read_bytes()),
    }
    if readings:
        files["readings"] = ("readings.csv", (folder / "readings.csv").read_bytes())
    return multipart_body({"name": name}, files)


def call(
    url: str, key: str, data: bytes | None = None, ctype: str = "application/json", *, timeout_s: float = 60.0
) -> tuple[int, bytes]:
    """One request with an API key (a POST when there is ``data``); the status and body, errors included."""
    req = urllib.request.Request(
        url, data=data, method="POST" if data is not None else "GET", headers={"X-API-Key": key, "Content-Type": ctype}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        body = err.read()
        err.close()
        return err.code, body


def wait_until_up(base_url: str, *, timeout_s: float = 30.0) -> None:
    """Poll ``/healthz`` until the server answers (raises ``TimeoutError`` if it never does)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"no answer from {base_url} within {timeout_s:g} s")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(database_url: str, *, cwd: str | Path, options: Sequence[str] = ()) -> Iterator[str]:
    """Run ``binroute serve`` on a free loopback port with ``database_url``; yield its base URL once it answers.

    Its output goes to ``serve-PORT.log`` in ``cwd``.
    """
    with served_replicas(database_url, 1, cwd=cwd, options=options) as bases:
        yield bases[0]


@contextmanager
def served_replicas(
    database_url: str, count: int, *, cwd: str | Path, options: Sequence[str] = ()
) -> Iterator[list[str]]:
    """``count`` ``binroute serve`` processes on one database, started at once; their base URLs once all answer.

    Each one's output goes to ``serve-PORT.log`` in ``cwd``; all are stopped (SIGTERM) at the end.
    """
    ports = [free_port() for _ in range(count)]
    command = [sys.executable, "-m", "binroute.api.cli", "serve", "--database", database_url, *options]
    logs = [(Path(cwd) / f"serve-{port}.log").open("wb") for port in ports]
    servers = [
        subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            wait_until_up(base, timeout_s=120)
        yield bases
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)
        for log in logs:
            log.close()


PG_BIN = [Path("/usr/lib/postgresql") / v / "bin" for v in ("17", "16", "15", "14")]


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((str(d / name) for d in PG_BIN if (d / name).is_file()), None)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextmanager
def postgres_server(root: Path) -> Iterator[str | None]:
    """A throwaway PostgreSQL cluster in ``root``; yields the URL of its ``postgres`` database (or ``None``)."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        yield None
        return
    as_user: list[str] = []
    if os.geteuid() == 0 and not _has_user("postgres"):
        yield None  # PostgreSQL will not run as root, and there is no postgres user to run it
        return
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        root.chmod(0o755)
        for parent in root.parents:  # the postgres user must reach the folder
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o005)
    data, port = root / "pgdata", free_port()
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "binroute", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", opts, "-w", "-l", str(root / "log"), "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://binroute@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False, capture_output=True)


def restart_postgres(root: Path) -> None:
    """Restart the cluster :func:`postgres_server` runs in ``root`` (``-m fast``: open connections are cut)."""
    pg_ctl = _pg_tool("pg_ctl")
    assert pg_ctl is not None
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    cmd = [*as_user, pg_ctl, "-D", str(root / "pgdata"), "-m", "fast", "-w", "-l", str(root / "log"), "restart"]
    # no pipes: the server it starts would hold them open, and a wait for their end would never end
    code = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if code != 0 and not _postgres_ready(root / "pgdata", wait_s=60.0):
        log = (root / "log").read_text(errors="replace").splitlines()[-15:] if (root / "log").exists() else []
        tail = "\n".join(log)
        raise RuntimeError(f"pg_ctl restart exited {code} and the server is not ready; its log ends:\n{tail}")


def _postgres_ready(pgdata: Path, *, wait_s: float) -> bool:
    """Whether the cluster's ``postmaster.pid`` says ``ready`` within ``wait_s`` (what ``pg_ctl -w`` waits for).

    ``pg_ctl restart`` has been seen to exit 1 on a loaded machine with the new server up and
    ready, its log showing nothing wrong; the server's own word is what counts.
    """
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            lines = []
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return True
        time.sleep(0.2)
    return False


@contextmanager
def redis_server() -> Iterator[str | None]:
    """A ``redis-server`` without persistence on a free loopback port; yields its URL (``None`` if not installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stop_group(proc: subprocess.Popen[bytes], *, timeout_s: float) -> None:
    """Stop a process started in a session of its own, and its children: SIGTERM, then SIGKILL after ``timeout_s``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


#: Where Debian's rabbitmq-server package puts the broker's own start script (it runs as the calling user).
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes]) -> bool:
    """Whether something listens on ``port`` of 127.0.0.1 within ``timeout_s`` (``False`` early if ``proc`` ends)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def rabbitmq_server(root: Path) -> Iterator[str | None]:
    """A throwaway RabbitMQ node with its files in ``root`` on a free loopback port; yields its ``amqp://`` URL.

    ``None`` where Debian's ``rabbitmq-server`` is not installed. The node has a name,
    an Erlang distribution port and a cookie of its own, so it never meets the
    machine's own broker; it is stopped (and its files left in ``root``) at the end.
    """
    if not RABBITMQ_SERVER.is_file() or shutil.which("erl") is None:
        yield None
        return
    port, dist = free_port(), free_port()
    root.mkdir(parents=True, exist_ok=True)
    (root / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n")
    (root / "enabled_plugins").write_text("[].\n")
    env = {
        **os.environ,
        "HOME": str(root),
        "RABBITMQ_NODENAME": f"binroute-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_BASE": str(root),
        "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
        "RABBITMQ_LOG_BASE": str(root / "log"),
        "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
        "RABBITMQ_PLUGINS_EXPAND_DIR": str(root / "plugins"),
    }
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(RABBITMQ_SERVER)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        if not _wait_for_port(port, 60.0, proc):
            raise RuntimeError(f"rabbitmq-server did not start; see {root / 'server.log'}")
        yield f"amqp://guest:guest@127.0.0.1:{port}//"
    finally:
        stop_group(proc, timeout_s=20)
        log.close()


@contextmanager
def worker_process(
    broker: str,
    database: str,
    workdir: Path,
    *options: str,
    wrapper: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``binroute worker`` in its own process group, its log beside ``workdir``; stopped (SIGTERM) at the end.

    Its own group lets a caller kill it and its pool at once, as a lost machine
    would be: ``os.killpg(proc.pid, signal.SIGKILL)``. ``wrapper`` comes before the
    command (``prlimit --fsize=…``, ``faketime …``); ``env`` adds to its environment.
    """
    log = (workdir.parent / f"{workdir.name}.log").open("w")
    cmd = [sys.executable, "-m", "binroute.api.cli", "worker", "--broker", broker, "--database", database]
    proc = subprocess.Popen(
        [*wrapper, *cmd, "--workdir", str(workdir), *options],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield proc
    finally:
        stop_group(proc, timeout_s=30)
        log.close()


def seed_for_fuzzing(base_url: str, api_key: str, folder: str | Path, *, timeout_s: float = 180.0) -> dict[str, str]:
    """Give a fuzz run something to find: a scenario (``folder``) with readings, collections and a finished plan.

    Returns the ids by path parameter (``scenario_id``, ``plan_id``, ``bin_id``) for
    :func:`write_schemathesis_config`. Raises ``RuntimeError`` naming the step that failed.
    """
    import json

    def ok(step: str, status: int, body: bytes) -> dict[str, Any]:
        if status >= 300:
            raise RuntimeError(f"seeding the fuzz database: {step} answered {status}: {body[:300]!r}")
        return dict(json.loads(body)) if body else {}

    body, ctype = scenario_upload("seeded", folder)
    scenario = ok("the scenario upload", *call(f"{base_url}/api/v1/scenarios", api_key, body, ctype))
    sid = scenario["id"]
    first_bin = (Path(folder) / "bins.csv").read_text().splitlines()[1].split(",")[0]
    collections = {"collections": [{"bin_id": first_bin, "collected_at": "2026-11-20T08:00:00Z", "fill_pct": 85}]}
    ok(
        "the collections",
        *call(f"{base_url}/api/v1/scenarios/{sid}/collections", api_key, json.dumps(collections).encode()),
    )
    order = {"date": "2026-11-23", "time_limit_s": 2, "engine": "ortools"}
    plan = ok("the plan", *call(f"{base_url}/api/v1/scenarios/{sid}/plans", api_key, json.dumps(order).encode()))
    end = time.monotonic() + timeout_s
    while plan.get("status") not in ("done", "failed") and time.monotonic() < end:
        time.sleep(0.5)
        plan = ok("the plan's status", *call(f"{base_url}/api/v1/plans/{plan['id']}", api_key))
    if plan.get("status") != "done":
        raise RuntimeError(f"seeding the fuzz database: the plan ended {plan.get('status')}: {plan.get('error')}")
    return {"scenario_id": sid, "plan_id": plan["id"], "bin_id": first_bin}


def small_scenario(sample: str | Path, folder: str | Path, *, bins: int = 30) -> Path:
    """A scenario folder: the first ``bins`` bins of ``sample`` and their readings, its fleet and network."""
    import pandas as pd

    sample, folder = Path(sample), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(sample / "bins.csv", dtype=str, keep_default_na=False).head(bins)
    table.to_csv(folder / "bins.csv", index=False)
    readings = pd.read_csv(sample / "readings.csv", dtype=str)
    readings[readings["bin_id"].isin(table["bin_id"])].to_csv(folder / "readings.csv", index=False)
    for name in ("fleet.json", "network.osm.pbf"):
        (folder / name).write_bytes((sample / name).read_bytes())
    return folder


def write_schemathesis_config(folder: str | Path, ids: Mapping[str, str]) -> Path:
    """``schemathesis.toml`` in ``folder``: the seeded ids as path parameters of every operation but DELETE.

    Every read and write then reaches a stored scenario and plan past its 404; the
    DELETE operations keep generated ids, so they cannot remove what the rest reads.
    """
    given = ", ".join(f'"path.{name}" = "{value}"' for name, value in ids.items())
    lines = ["[[operations]]", 'exclude-method = "DELETE"', f"parameters = {{ {given} }}"]
    path = Path(folder) / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def schemathesis_command(base_url: str, api_key: str, *, max_examples: int, seed: int) -> list[str]:
    """The schemathesis run the tests and ``benchmarks.fuzz`` make against ``base_url``'s OpenAPI document.

    Every phase (examples, coverage, fuzzing, stateful) and every check but
    positive-data acceptance: a fleet or bins table can match the document's
    shapes and still be refused (422) for what it means (a vehicle with an
    unknown depot). Needs the ``schemathesis`` dev dependency beside Python.
    """
    return [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base_url}/api/v1/openapi.json",
        "--header",
        f"X-API-Key: {api_key}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--no-color",
    ]
