"""Road network files shared through the database, so any machine can solve any scenario.

The server stores each uploaded network once by the SHA-256 of its bytes
(:class:`~binroute.api.service.db.NetworkBlob`); a solve, wherever it runs, writes it
into its own cache folder under that name (so geo's graph cache beside it is
reused too) and reads it from there.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from binroute.geo import OSM_SUFFIXES

from .db import NetworkBlob, ScenarioRow


def store_network(s: Session, path: Path) -> str:
    """Store the network file at ``path`` unless its content is stored already; its SHA-256."""
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if s.get(NetworkBlob, digest) is None:
        suffix = next(x for x in OSM_SUFFIXES if path.name.endswith(x))
        s.add(NetworkBlob(sha256=digest, suffix=suffix, size=len(content), content=content))
        s.flush()
    return digest


def forget_network(s: Session, digest: str | None, *, but: str) -> None:
    """Delete the blob ``digest`` unless a scenario other than ``but`` still uses it."""
    if digest is None:
        return
    users = s.scalar(
        select(func.count()).select_from(ScenarioRow).where(ScenarioRow.network_sha256 == digest, ScenarioRow.id != but)
    )
    if not users:
        blob = s.get(NetworkBlob, digest)
        if blob is not None:
            s.delete(blob)


def by_content(path: Path, cache: Path) -> Path:
    """A copy of the network file at ``path`` in ``cache``, named by the SHA-256 of its bytes.

    Loading it there (``load_network``) reuses geo's graph cache beside it: a council
    uploading the same network again, or many councils one city's, pay for the graph once.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    suffix = next(x for x in OSM_SUFFIXES if path.name.endswith(x))
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{digest}{suffix}"
    if not target.is_file():
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
        with os.fdopen(fd, "wb") as fh, path.open("rb") as src:
            while block := src.read(1 << 20):
                fh.write(block)
        os.replace(tmp, target)  # atomic: concurrent uploads never read half a file
    return target


def network_path(s: Session, scenario: ScenarioRow, cache: Path) -> Path:
    """A local file with the scenario's network: from its blob into ``cache``, else its server-side file."""
    if scenario.network_sha256 is None:
        return Path(scenario.network_file)
    blob = s.get(NetworkBlob, scenario.network_sha256)
    if blob is None:
        return Path(scenario.network_file)
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{blob.sha256}{blob.suffix}"
    if not target.is_file():
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob.content)
        os.replace(tmp, target)  # atomic: concurrent solves never read half a file
    return target
