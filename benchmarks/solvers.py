"""Solution quality on the shared benchmark instances.

Reads ``../shared/benchmarks`` (skips cleanly when it is absent), solves every
instance with each engine at each time budget, checks every solution with the
independent checker, and writes ``benchmarks/results/<name>.{csv,json,md}``.

    python -m benchmarks.solvers --budget 30 60 --jobs 2 [--suite x,solomon,kim] [--engine ortools,pyvrp]
    python -m benchmarks.solvers --report solvers-ortools solvers-pyvrp solvers-auto

PyVRP alone cannot express the Kim instances' lunch break, stop limit and
daily yardage; with ``--engine pyvrp`` those are dropped (the row says so in
``relaxed``) and the plan is checked against the relaxed problem. ``--report``
merges result files into one side-by-side table per suite
(``benchmarks/results/solvers.md``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
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
    from binroute.routing import FEET_PER_MILE, Limits, SolveParams, check_solution, read_instance, solve
    from binroute.routing.engines import unsupported

    instance = read_instance(path)
    problem = instance.problem
    relaxed = unsupported(problem) if engine == "pyvrp" else []
    if relaxed:
        loose = [dataclasses.replace(v, break_=None, max_lifts=None, max_load_per_day=None) for v in problem.vehicles]
        problem = dataclasses.replace(problem, vehicles=tuple(loose), balance_weight=0.0)
    began = time.perf_counter()
    solution = solve(
        problem, limits=Limits(time_limit_s=budget), params=SolveParams(engine=engine, seed=seed, rounds="free")
    )
    seconds = time.perf_counter() - began
    report = check_solution(problem, solution, require_all=True)
    row: dict[str, object] = {
        "suite": suite,
        "instance": instance.name,
        "engine": engine,
        "budget_s": budget,
        "vehicles": solution.vehicles_used,
        "seconds": round(seconds, 1),
        "feasible": report.ok,
        "unserved": len(solution.unserved),
        "relaxed": ", ".join(relaxed),
        "solved_by": solution.engine,
        "warm_start_used": solution.details.get("warm_start_used", ""),
    }
    if suite == "kim":
        row["miles"] = round(solution.distance / FEET_PER_MILE, 1)
        row["breaks"] = sum(r.break_ is not None for r in solution.routes if r.used)
    else:
        row["cost"] = round(solution.distance / instance.scale, 1)
    return row


def _key(row: dict[str, object]) -> str:
    return f"{row['engine']} {float(row['budget_s']):g}s"  # type: ignore[arg-type]


def report(names: list[str]) -> str:
    """One Markdown table per suite: an instance per row, each engine and budget side by side."""
    rows = [r for n in names for r in json.loads((RESULTS / f"{n}.json").read_text())["rows"]]
    order = {"ortools": 0, "pyvrp": 1, "auto": 2}
    runs = sorted({_key(r) for r in rows}, key=lambda k: (float(k.split()[1][:-1]), order.get(k.split()[0], 9), k))
    parts = []
    for suite in ("x", "solomon", "kim"):
        sub = [r for r in rows if r["suite"] == suite]
        if not sub:
            continue
        names_in = list(dict.fromkeys(str(r["instance"]) for r in sub))
        cell = {(str(r["instance"]), _key(r)): r for r in sub}
        present = [k for k in runs if any((n, k) in cell for n in names_in)]
        table_rows: list[dict[str, object]] = []
        for inst in names_in:
            line: dict[str, object] = {"instance": inst}
            for k in present:
                r = cell.get((inst, k))
                if r is None:
                    line[k] = ""
                elif suite == "kim":
                    mark = "" if r["feasible"] else f", {r['unserved']} unserved"
                    mark += " (no lunch/limits)" if r.get("relaxed") else f", {r['breaks']} lunches"
                    line[k] = f"{r['vehicles']} veh, {float(r['miles']):,.1f} mi{mark}"  # type: ignore[arg-type]
                else:
                    flag = "" if r["feasible"] else f" ({r['unserved']} unserved)"
                    line[k] = f"{float(r['gap_pct']):.2f}%{flag}"  # type: ignore[arg-type]
            table_rows.append(line)
        if suite != "kim":
            mean: dict[str, object] = {"instance": "**mean gap**"}
            for k in present:
                gaps = [float(r["gap_pct"]) for r in sub if _key(r) == k and "gap_pct" in r]  # type: ignore[arg-type]
                mean[k] = f"**{sum(gaps) / len(gaps):.2f}%**" if gaps else ""
            table_rows.append(mean)
        secs = {k: [float(r["seconds"]) for r in sub if _key(r) == k] for k in present}  # type: ignore[arg-type]
        table_rows.append({"instance": "mean seconds", **{k: f"{sum(v) / len(v):.1f}" for k, v in secs.items()}})
        title = {"x": "CVRPLIB X: gap to BKS", "solomon": "Solomon VRPTW: gap to BKS", "kim": "Kim et al. (2006)"}
        parts.append(f"### {title[suite]}\n\n" + table(table_rows, ["instance", *present]))
    text = "\n\n".join(parts) + "\n"
    (RESULTS / "solvers.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, nargs="+", default=[60.0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--suite", default="x,solomon,kim")
    parser.add_argument("--engine", default="ortools")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated instance names")
    parser.add_argument("--name", default="solvers", help="results file name under benchmarks/results")
    parser.add_argument("--report", nargs="+", metavar="NAME", help="merge these results files into solvers.md")
    args = parser.parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
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
            cols = ["instance", "engine", "budget_s", "vehicles", "miles", "breaks", "unserved", "relaxed", "seconds"]
            cols.append("feasible")
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
