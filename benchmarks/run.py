"""``make bench``: roads, API load, the live day, scale-out, forecasts, a log's business case, API fuzzing,
drivable routes, rounds a crew can own, a 10-minute soak with faults, solution quality.

About 3 h 30 min in all.

Each engine runs every shared instance at 30 s and 60 s; OR-Tools and PyVRP
alone use one core each, so two instances run at once; ``auto`` uses both
cores for one instance. The side-by-side table is ``benchmarks/results/solvers.md``.
"""

from __future__ import annotations

import sys

from . import api_load, forecast, fuzz, kerbside, live_day, matrix, rounds, scale_out, simulate_log, soak, solvers


def main() -> int:
    status = matrix.main([])
    status |= api_load.main([])
    status |= live_day.main([])
    status |= scale_out.main([])
    status |= forecast.main([])
    status |= simulate_log.main(["--jobs", "2"])
    status |= fuzz.main([])
    status |= kerbside.main([])
    status |= rounds.main([])
    status |= soak.main([])
    names = []
    for engine, jobs in (("ortools", "2"), ("pyvrp", "2"), ("auto", "1")):
        for budget in ("30", "60"):
            names.append(f"solvers-{engine}-{budget}s")
            status |= solvers.main(["--budget", budget, "--jobs", jobs, "--engine", engine, "--name", names[-1]])
    return status | solvers.main(["--report", *names])


if __name__ == "__main__":
    sys.exit(main())
