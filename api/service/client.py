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
def served(
    database_url: str, *, cwd: str | Path, options: Sequence[str] = (), up_timeout_s: float = 120.0
) -> Iterator[str]:
    """Run ``binroute serve`` on a free loopback port with ``database_url``; yield its base URL once it answers.

    ``up_timeout_s`` bounds the wait for its first answer: generous, since a machine busy with other work
    (test workers, benchmarks) can take tens of seconds to start it.
    """
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "binroute.api.cli", "serve", "--port", str(port), "--database", database_url, *options],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, timeout_s=up_timeout_s)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


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


@contextmanager
def worker_process(broker: str, database: str, workdir: Path, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """``binroute worker`` in its own process group, its log beside ``workdir``; stopped (SIGTERM) at the end.

    Its own group lets a caller kill it and its pool at once, as a lost machine
    would be: ``os.killpg(proc.pid, signal.SIGKILL)``.
    """
    log = (workdir.parent / f"{workdir.name}.log").open("w")
    cmd = [sys.executable, "-m", "binroute.api.cli", "worker", "--broker", broker, "--database", database]
    proc = subprocess.Popen(
        [*cmd, "--workdir", str(workdir), *options], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


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
