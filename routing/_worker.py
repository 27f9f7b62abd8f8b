"""Run one PyVRP search in a separate process (used to keep the second core busy).

Reads a pickled ``(problem, limits, seed, relax_breaks)`` from the file named
first and writes the pickled result of :func:`routing.pyvrp_engine.search`
to the file named second. A plain subprocess avoids multiprocessing's
re-import of the caller's main module.
"""

from __future__ import annotations

import pickle
import sys

from routing.pyvrp_engine import search


def main() -> None:
    with open(sys.argv[1], "rb") as fh:
        problem, limits, seed, relax = pickle.load(fh)
    result = search(problem, limits, seed, relax)
    with open(sys.argv[2], "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main()
