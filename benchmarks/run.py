"""``make bench``: road network, API load, then solution quality on the shared instances (about 90 min)."""

from __future__ import annotations

import sys

from . import api_load, matrix, solvers


def main() -> int:
    status = matrix.main([])
    status |= api_load.main([])
    for engine, jobs in (("ortools", "2"), ("auto", "1")):
        status |= solvers.main(
            ["--budget", "60", "--jobs", jobs, "--engine", engine, "--name", f"solvers-{engine}-60s"]
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
