"""Half of a many-source Dijkstra in a helper process: ``python -m geo._dijkstra_worker JOB ANSWER``.

scipy's Dijkstra holds the GIL, so the second core is used from a separate
process; files carry the pickled inputs and outputs.
"""

from __future__ import annotations

import pickle
import sys

from scipy.sparse.csgraph import dijkstra


def main() -> None:
    with open(sys.argv[1], "rb") as fh:
        graph, sources, columns = pickle.load(fh)
    out = dijkstra(graph, directed=True, indices=sources)[:, columns]
    with open(sys.argv[2], "wb") as fh:
        pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main()
