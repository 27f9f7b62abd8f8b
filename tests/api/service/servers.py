"""Real database and broker servers for tests, from the Debian binaries, on free loopback ports.

Each helper returns ``None`` when its binary is missing, so a test can skip.
``redis_server`` and ``rabbitmq_server`` are :mod:`binroute.api.service.client`'s (the benchmarks use them too).
PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from binroute.api.service.client import free_port
from binroute.api.service.client import rabbitmq_server as rabbitmq_server
from binroute.api.service.client import redis_server as redis_server

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


def new_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``server_url``; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
