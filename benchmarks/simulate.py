"""``python -m benchmarks.simulate``: collection policies compared on the bundled sample.

The sample's readings cover eight weeks (2026-09-27 to 2026-11-23); the last
four (:data:`START` to :data:`END`) are simulated under ``predictive``,
``timetable:mon,thu`` and ``threshold:80``, each day planned with OR-Tools
stopped after :data:`SOLUTION_LIMIT` solutions (deterministic). Results go to
``benchmarks/results/simulate.{csv,json}`` and ``simulate_report.html``, and a
Markdown table is printed (the README's).
"""

from __future__ import annotations

import json
import time
from datetime import date

from api.pipeline import load_scenario
from api.pipeline.policies import parse_policy
from api.pipeline.simulate import SimOptions, simulate
from api.pipeline.simulate_report import simulation_html

from .common import RESULTS, ROOT, table, write_results

START, END = date(2026, 10, 26), date(2026, 11, 22)
POLICIES = ("predictive", "timetable:mon,thu", "threshold:80")
SOLUTION_LIMIT = 30
COLUMNS = [
    "policy", "crew_days", "utilisation", "km", "kg_co2", "lifts", "tonnes", "cost",
    "overflow_bin_days", "bins_at_risk", "due_not_served",
]  # fmt: skip


def main() -> None:
    """Run the simulation and write and print its results."""
    scn = load_scenario(ROOT / "sample_data" / "helsinki")
    options = SimOptions(START, END, solution_limit=SOLUTION_LIMIT, engine="ortools")
    clock = time.perf_counter()
    result = simulate(scn, [parse_policy(p) for p in POLICIES], options, progress=print)
    elapsed = time.perf_counter() - clock
    rows = [{"policy": name, **data["totals"]} for name, data in result["policies"].items()]
    meta = {"from": str(START), "to": str(END), "runtime_s": round(elapsed, 1), **result["solver"]}
    write_results("simulate", rows, meta)
    (RESULTS / "simulation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "simulate_report.html").write_text(simulation_html(result), encoding="utf-8")
    print(table(rows, COLUMNS))
    print(f"{elapsed:.0f} s")


if __name__ == "__main__":
    main()
