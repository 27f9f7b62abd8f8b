"""Run one job of :data:`routing.solver.JOBS` in a separate process (keeps the second core busy).

Reads a pickled ``(job name, arguments)`` from the file named first and writes
the pickled result to the file named second. A plain subprocess avoids
multiprocessing's re-import of the caller's main module.
"""

from __future__ import annotations

import pickle
import sys

from routing.solver import JOBS


def main() -> None:
    with open(sys.argv[1], "rb") as fh:
        job, args = pickle.load(fh)
    result = JOBS[job](*args)
    with open(sys.argv[2], "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main()
