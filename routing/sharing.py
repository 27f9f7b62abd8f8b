"""Hand a job to another process without copying its big arrays (solver helpers, the simulator's policies).

:func:`dump_job` pickles a job with every large numpy array (the travel
matrices, mostly) left out of the pickle: each is written once to a ``.npy``
file next to it and the pickle holds only its file name (pickle's
``persistent_id``). :func:`load_job` maps those files read-only
(``np.load(mmap_mode="r")``), so the helper shares the operating system's
pages instead of unpickling a private copy; an array referenced twice (the
same matrix in two problems) is written and mapped once.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import IO, Any

import numpy as np

#: Arrays at least this large travel as mapped files; smaller ones in the pickle.
SHARE_MIN_BYTES = 1 << 20


class _Out(pickle.Pickler):
    def __init__(self, fh: IO[bytes], folder: Path) -> None:
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder = folder
        self.saved: dict[int, tuple[str, np.ndarray]] = {}

    def persistent_id(self, obj: Any) -> str | None:
        if not isinstance(obj, np.ndarray) or obj.nbytes < SHARE_MIN_BYTES or obj.dtype.hasobject:
            return None
        key = id(obj)
        if key not in self.saved:
            name = f"array{len(self.saved)}.npy"
            np.save(self.folder / name, obj, allow_pickle=False)
            self.saved[key] = (name, obj)  # keeps obj alive, so its id is not reused meanwhile
        return self.saved[key][0]


class _In(pickle.Unpickler):
    def __init__(self, fh: IO[bytes], folder: Path) -> None:
        super().__init__(fh)
        self.folder = folder
        self.mapped: dict[str, np.ndarray] = {}

    def persistent_load(self, pid: Any) -> np.ndarray:
        name = str(pid)
        if name not in self.mapped:
            # A plain ndarray view of the mapping (no copy; the view keeps the mapping open).
            self.mapped[name] = np.asarray(np.load(self.folder / Path(name).name, mmap_mode="r"))
        return self.mapped[name]


def dump_job(path: Path, job: object) -> None:
    """Pickle ``job`` to ``path``, its large arrays to mapped files in the same folder."""
    with open(path, "wb") as fh:
        _Out(fh, path.parent).dump(job)


def load_job(path: Path) -> Any:
    """Read back what :func:`dump_job` wrote, large arrays mapped read-only."""
    with open(path, "rb") as fh:
        return _In(fh, path.parent).load()
