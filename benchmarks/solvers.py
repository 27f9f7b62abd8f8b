"""Solution quality on the shared benchmark instances.

Reads ``../shared/benchmarks`` (skips cleanly when it is absent), solves every
instance with each engine at each time budget, checks every solution with the
independent checker, and writes ``benchmarks/results/solvers.{csv,json,md}``.

    python -m benchmarks.solvers --budget 60 --jobs 2 [--suite x,solomon,kim] [--engine ortools]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .common import RESULTS, SHARED, table, write_results


def _bks() -> dict[str, float]:
    out: dict[str, float] = {}
    for sub, col in (("cvrp_x", "bks_cost"), ("solomon", "bks_distance_dimacs_1dp_truncated")):
        path = SHARED / sub / "bks.csv"
        if path.is_file():
            with path.open() as fh:
                for row in csv.DictReader(fh):
                    out[row["instance"]] = float(row[col])
    return out


def instances(suites: list[str]) -> list[tuple[str, Path]]:
    found = []
    if "x" in suites:
        found += [
            ("x", p) for p in sorted((SHARED / "cvrp_x").glob("*.vrp"), key=lambda p: int(p.stem.split("-")[1][1:]))
        ]
    if "solomon" in suites:
        found += [("solomon", p) for p in sorted((SHARED / "solomon").glob("*.txt"))]
    if "kim" in suites:
        found += [
            ("kim", p)
            for p in sorted((SHARED / "wcvrptw_kim2006").glob("*_stop.txt"), key=lambda p: int(p.stem.split("_")[0]))
        ]
    return found


def run_one(suite: str, path: str, engine: str, budget: float, seed: int) -> dict[str, object]:
    from routing import Limits, SolveParams, check_solution, solve
    from routing.instances import FEET_PER_MILE, read_instance

    instance = read_instance(path)
    began = time.perf_counter()
    solution = solve(instance.problem, limits=Limits(time_limit_s=budget), params=SolveParams(engine=engine, seed=seed))
    seconds = time.perf_counter() - began
    report = check_solution(instance.problem, solution, require_all=True)
    row: dict[str, object] = {
        "suite": suite,
        "instance": instance.name,
        "engine": engine,
        "budget_s": budget,
        "vehicles": solution.vehicles_used,
        "seconds": round(seconds, 1),
        "feasible": report.ok,
        "unserved": len(solution.unserved),
    }
    if suite == "kim":
        row["miles"] = round(solution.distance / FEET_PER_MILE, 1)
        row["breaks"] = sum(r.break_ is not None for r in solution.routes if r.used)
    else:
        row["cost"] = round(solution.distance / instance.scale, 1)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, nargs="+", default=[60.0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--suite", default="x,solomon,kim")
    parser.add_argument("--engine", default="ortools")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated instance names")
    parser.add_argument("--name", default="solvers", help="results file name under benchmarks/results")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} not found")
        return 0
    todo = instances(args.suite.split(","))
    if args.only:
        keep = set(args.only.split(","))
        todo = [(s, p) for s, p in todo if p.stem in keep]
    bks = _bks()
    jobs = [(s, str(p), e, b, args.seed) for b in args.budget for e in args.engine.split(",") for s, p in todo]
    rows: list[dict[str, object]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(run_one, *zip(*jobs, strict=True)):
            name = str(row["instance"])
            if name in bks and "cost" in row:
                row["bks"] = bks[name]
                row["gap_pct"] = round(100 * (float(row["cost"]) - bks[name]) / bks[name], 2)  # type: ignore[arg-type]
            rows.append(row)
            print(row, flush=True)
    name = args.name
    write_results(name, rows, {"budgets": args.budget, "engines": args.engine, "jobs": args.jobs})
    lines = []
    for suite in ("x", "solomon", "kim"):
        sub = [r for r in rows if r["suite"] == suite]
        if not sub:
            continue
        cols = ["instance", "engine", "budget_s", "cost", "bks", "gap_pct", "vehicles", "seconds", "feasible"]
        if suite == "kim":
            cols = ["instance", "engine", "budget_s", "vehicles", "miles", "breaks", "unserved", "seconds", "feasible"]
        lines.append(f"### {suite}\n\n" + table(sub, cols))
        gaps = [float(r["gap_pct"]) for r in sub if "gap_pct" in r]  # type: ignore[arg-type]
        if gaps:
            lines.append(f"mean gap: {sum(gaps) / len(gaps):.2f}% over {len(gaps)} runs")
    text = "\n\n".join(lines)
    (RESULTS / f"{name}.md").write_text(text + "\n")
    print(text)
    return 0 if all(r["feasible"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
