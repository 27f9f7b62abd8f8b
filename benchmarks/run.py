"""``make bench``: the road-network benchmark, then solution quality on the shared instances."""

from __future__ import annotations

import sys

from . import matrix, solvers


def main() -> int:
    status = matrix.main([])
    for engine, jobs in (("ortools", "2"), ("auto", "1")):
        status |= solvers.main(
            ["--budget", "60", "--jobs", jobs, "--engine", engine, "--name", f"solvers-{engine}-60s"]
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
