"""A contraction hierarchy kept on disk: file naming, saving, loading, and notes of builds given up.

A hierarchy takes seconds to minutes to build and a few megabytes to keep,
so it is written beside the network file it was built from
(:func:`cache_file`, named by a digest of everything it is built from)
and the next process loads it (:func:`cached_hierarchy`). A build given up
at a work limit is noted beside it too (``.gave-up``), so only a bigger job
tries again. Every failure to read or write costs only the cache: a file
that cannot be read is rebuilt, a folder that cannot be written is logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..network import FloatArray
from . import ch
from .ch import Hierarchy, IntArray, contract_graph

log = logging.getLogger(__name__)

#: Bump when :mod:`.ch` builds or this module stores hierarchies differently: every hierarchy on disk is rebuilt.
HIERARCHY_CACHE_VERSION = "2"


class HierarchyStore:
    """What a graph keeps of its contraction hierarchy: the hierarchy once built or loaded, or the
    largest work limit a build gave up at (``-1``: none tried). The one mutable part of a turn graph.
    """

    __slots__ = ("gave_up_at", "hierarchy")

    def __init__(self) -> None:
        self.hierarchy: Hierarchy | None = None
        self.gave_up_at = -1


def cache_file(source: str | None, n_nodes: int, tail: IntArray, head: IntArray, weight: FloatArray) -> Path | None:
    """Where the hierarchy of a graph is kept: beside the network's file ``source``, named by a digest of
    everything it is built from (the arcs and weights, hence the network, the vehicle profile and the turn
    rules, and the contraction's settings and :data:`HIERARCHY_CACHE_VERSION`); ``None`` if there is no file.
    """
    path = Path(source) if source else None
    if path is None or not path.is_file():
        return None
    settings = (HIERARCHY_CACHE_VERSION, n_nodes, ch.CORE_DEGREE, ch.WITNESS_SETTLED, ch.SIMULATED_SETTLED)
    digest = hashlib.sha256(repr(settings).encode())
    for a in (tail, head, weight):
        digest.update(np.ascontiguousarray(a).tobytes())
    return path.with_name(f"{path.name}.{digest.hexdigest()[:16]}.binroute-ch.npz")


def cached_hierarchy(
    store: HierarchyStore,
    *,
    source: str | None,
    n_nodes: int,
    arcs: Callable[[], tuple[IntArray, IntArray, FloatArray]],
    work_limit: int | None,
) -> Hierarchy | None:
    """The hierarchy of the graph with ``n_nodes`` and ``arcs()`` (tail, head, weight) if kept in ``store``,
    on disk beside ``source``, or buildable within ``work_limit`` (``None``: any); kept in ``store`` (as is a
    limit too small, also noted on disk) and written to disk when built."""
    if store.hierarchy is not None:
        return store.hierarchy
    tail, head, weight = arcs()
    path = cache_file(source, n_nodes, tail, head, weight)
    hierarchy = load_hierarchy(path) if path is not None else None
    if hierarchy is not None and hierarchy.n_nodes == n_nodes:
        store.hierarchy = hierarchy
        return hierarchy
    if path is not None:
        store.gave_up_at = max(store.gave_up_at, _gave_up_on_disk(path))
    if work_limit is not None and work_limit <= store.gave_up_at:
        return None
    hierarchy = contract_graph(n_nodes, tail, head, weight, work_limit=work_limit)
    if hierarchy is None:
        store.gave_up_at = max(store.gave_up_at, work_limit if work_limit is not None else 0)
        if path is not None:
            _note_gave_up(path, store.gave_up_at)
        return None
    store.hierarchy = hierarchy
    if path is not None:
        save_hierarchy(hierarchy, path)
    return hierarchy


def _gave_up_file(path: Path) -> Path:
    return path.with_name(path.name + ".gave-up")


def _gave_up_on_disk(path: Path) -> int:
    """The largest work limit a build of the hierarchy kept at ``path`` gave up at, by any process (-1: none)."""
    try:
        return int(_gave_up_file(path).read_text(encoding="ascii").strip())
    except (OSError, ValueError):  # absent, unreadable or garbled: as if never tried
        return -1


def _note_gave_up(path: Path, work_limit: int) -> None:
    """Remember beside the network that building this hierarchy gave up at ``work_limit``: on a street grid
    the next process, a plan a day, skips the wasted attempt (a bigger job, with more to save, tries again)."""
    marker = _gave_up_file(path)
    try:
        marker.write_text(f"{work_limit}\n", encoding="ascii")
        marker.chmod(0o644)
    except OSError as exc:
        log.warning("could not note in %s that the contraction hierarchy was given up: %s", marker, exc)


_ARRAYS = ("rank", "core", "up_off", "up_to", "up_w", "down_off", "down_to", "down_w")


def save_hierarchy(h: Hierarchy, path: Path) -> bool:
    """Write ``h`` to ``path`` (``.npz``) atomically: a temporary file in the same folder, then renamed.

    Returns ``False`` (and logs why) when the folder cannot be written: a
    hierarchy not kept is built again next time, never an error.
    """
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        os.fchmod(fd, 0o644)  # a cache others may read, as the network cache beside it (mkstemp makes it 0600)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, n_nodes=np.int64(h.n_nodes), work=np.int64(h.work), **{k: getattr(h, k) for k in _ARRAYS})
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("could not keep the contraction hierarchy in %s: %s", path, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return False


def load_hierarchy(path: Path) -> Hierarchy | None:
    """The hierarchy :func:`save_hierarchy` wrote to ``path``, or ``None`` if absent, unreadable or inconsistent.

    Every index is checked before compiled code may follow it, so a
    truncated or tampered file is rebuilt, never a crash.
    """
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            n = int(data["n_nodes"])
            arrays = {k: np.ascontiguousarray(data[k]) for k in _ARRAYS}
            work = int(data["work"])
        h = Hierarchy(n, **arrays, work=work)  # type: ignore[arg-type]
        if not _consistent(h):
            raise ValueError("inconsistent arrays")
        return h
    except Exception as exc:  # any unreadable file: rebuild it
        log.warning("ignoring unreadable contraction hierarchy %s: %s", path, exc)
        return None


def _consistent(h: Hierarchy) -> bool:
    """Shapes, dtypes and every index of ``h`` in range (what the compiled searches rely on)."""
    n = h.n_nodes
    if h.rank.dtype != np.int64 or h.rank.shape != (n,) or h.core.dtype != np.bool_ or h.core.shape != (n,):
        return False
    for off, to, w in (h.up, h.down):
        if off.dtype != np.int64 or to.dtype != np.int64 or w.dtype != np.float64 or off.shape != (n + 1,):
            return False
        if off[0] != 0 or off[-1] != len(to) or len(w) != len(to) or np.any(np.diff(off) < 0):
            return False
        if len(to) and (to.min() < 0 or to.max() >= n or not np.all(w >= 0) or not np.all(np.isfinite(w))):
            return False
    return True
