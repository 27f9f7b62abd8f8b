"""Run one job of :data:`binroute.routing.solver.JOBS` in a separate process (keeps the second core busy).

Reads a ``(job name, arguments)`` from the file named first, written by
:func:`binroute.routing.sharing.dump_job` (large arrays such as the travel matrices
are mapped from files beside it, not copied), and writes the pickled result
to the file named second. A plain subprocess avoids
multiprocessing's re-import of the caller's main module.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from binroute.routing.sharing import load_job
from binroute.routing.solver import JOBS


def main() -> None:
    job, args = load_job(Path(sys.argv[1]))
    result = JOBS[job](*args)
    with open(sys.argv[2], "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main()
