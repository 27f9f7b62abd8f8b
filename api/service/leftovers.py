"""Files an upload cut short leaves behind, removed when a server starts.

A scenario upload is unpacked in a folder of its own under the data folder
(``upload-*``); its network is then moved to ``networks/<scenario id><suffix>``
and copied, through a ``*.part`` file renamed when whole, to
``networks/by-content/``, all before the scenario's row is committed. A
server killed with SIGKILL (or a lost machine) at any of those steps leaves
files that no row points to: the upload's folder, a half-written ``.part``, a
network named by a scenario id that never got its row. Nothing the user was
told is stored is among them (the upload had no answer yet), but each may be
up to an upload's size (50 MB), and they add up.

:func:`sweep_leftovers` removes those at least :data:`LEFTOVER_AGE_S` old: an
upload still in progress in another replica sharing the data folder is
younger than that, so it is never touched.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import ScenarioRow

log = logging.getLogger(__name__)

#: How old (seconds since last modified) a leftover must be before a starting server removes it.
LEFTOVER_AGE_S = 3600.0
#: A network file named by a scenario id: 32 hex digits and an OSM suffix.
_SCENARIO_NETWORK = re.compile(r"^([0-9a-f]{32})\.osm(\.pbf|\.bz2)?$")


def _old(path: Path, cutoff: float) -> bool:
    try:
        return path.lstat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def sweep_leftovers(
    files: Path, sessions: Callable[[], Session], *, older_than_s: float = LEFTOVER_AGE_S, now: float | None = None
) -> list[Path]:
    """Remove what cut-short uploads left in the data folder ``files``; the paths removed.

    Upload folders (``upload-*``), partial network copies (``*.part`` in
    ``networks/`` and ``networks/by-content/``) and network files named by a
    scenario id that has no row, each only when last modified at least
    ``older_than_s`` before ``now`` (default: the clock).
    """
    cutoff = (time.time() if now is None else now) - older_than_s
    removed: list[Path] = []
    for folder in sorted(files.glob("upload-*")):
        if folder.is_dir() and _old(folder, cutoff):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    networks = files / "networks"
    for part in sorted([*networks.glob("*.part"), *(networks / "by-content").glob("*.part")]):
        if _old(part, cutoff):
            part.unlink(missing_ok=True)
            removed.append(part)
    named = {}
    for path in sorted(networks.glob("*.osm*")):
        match = _SCENARIO_NETWORK.match(path.name)
        if match and path.is_file() and _old(path, cutoff):
            named[match.group(1)] = path
    if named:
        with sessions() as s:
            known = set(s.scalars(select(ScenarioRow.id).where(ScenarioRow.id.in_(list(named)))))
        for scenario_id, path in named.items():
            if scenario_id not in known:
                path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        log.info("removed %d file(s) left by uploads cut short: %s", len(removed), ", ".join(p.name for p in removed))
    return removed
