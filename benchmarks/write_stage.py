"""Writing a big plan (issue #19): the report and every output file for thousands of stops.

``python -m benchmarks.write_stage [--sizes 2000 5000] [--time-limit 30] [--generated SIZE]``

Plans the day of :mod:`benchmarks.big_day` (N bins at random points of the
streets of Milan, ``../shared/osm/milan_italy_small.osm.pbf``, © OpenStreetMap
contributors, ODbL; fixed seed) with a short time limit, since the plan's
quality does not matter here, then writes it with every export (routes
GeoJSON, plan.json, map page, per-crew GeoJSON, route sheets, GPX,
GeoPackage, PNG). Records the report stage (each trip's drive along the
streets, the GeoJSON and plan.json built in memory) and the writing of the
files, in wall and CPU seconds. Without the Milan extract it skips, unless
``--generated SIZE`` asks for a generated street grid. Results go to
``benchmarks/results/write_stage.{json,md}``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .big_day import DAY, MILAN, _scenario
from .common import RESULTS, table

REPORT_STEPS = ("route_legs", "plan_geojson", "plan_report")


def _clocked(func: Callable[..., Any], clock: dict[str, float]) -> Callable[..., Any]:
    """``func``, adding its wall and CPU seconds to ``clock``."""

    @functools.wraps(func)
    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            clock["wall"] += time.perf_counter() - wall
            clock["cpu"] += time.process_time() - cpu

    return timed


def run_size(network: Path, n_bins: int, time_limit: float, tmp: Path) -> dict[str, object]:
    """Plan ``n_bins`` on ``network`` and time the report stage and the writing of every file."""
    from binroute.api.pipeline import plan as plan_module
    from binroute.api.pipeline.options import PlanOptions
    from binroute.api.pipeline.scenario import load_scenario
    from binroute.api.pipeline.write import write_plan

    folder = tmp / f"day{n_bins}"
    folder.mkdir()
    _scenario(folder, network, n_bins)
    report = {"wall": 0.0, "cpu": 0.0}
    originals = {name: getattr(plan_module, name) for name in REPORT_STEPS}
    try:
        for name, func in originals.items():
            setattr(plan_module, name, _clocked(func, report))
        result = plan_module.plan_scenario(load_scenario(folder), PlanOptions(date=DAY, time_limit_s=time_limit))
    finally:
        for name, func in originals.items():
            setattr(plan_module, name, func)
    out = tmp / f"out{n_bins}"
    wall, cpu = time.perf_counter(), time.process_time()
    write_plan(result, out, tiles=None)
    files = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    return {
        "bins": n_bins,
        "stops": len(result.solution.served()),
        "lorries_used": result.solution.vehicles_used,
        "report_s": round(report["wall"], 2),
        "report_cpu_s": round(report["cpu"], 2),
        "files_s": round(files["wall"], 2),
        "files_cpu_s": round(files["cpu"], 2),
        "write_s": round(report["wall"] + files["wall"], 2),
        "write_cpu_s": round(report["cpu"] + files["cpu"], 2),
        "output_mb": round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument(
        "--generated", type=int, metavar="SIZE", help="a generated SIZE x SIZE street grid instead of Milan"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="write-stage-") as name:
        tmp = Path(name)
        if args.generated:
            from .gen_city import write_city

            network, source = write_city(tmp / "city.osm", args.generated), f"generated {args.generated}² grid"
        elif MILAN.is_file():
            # A copy beside which the graph cache can be written (../shared is read-only).
            network, source = tmp / MILAN.name, "Milan (© OpenStreetMap contributors, ODbL)"
            shutil.copyfile(MILAN, network)
        else:
            print(f"skipped: {MILAN} not found (use --generated SIZE for a generated city)")
            return 0
        meta = {"network": source, "time_limit_s": args.time_limit, "cores": os.cpu_count()}
        rows = [run_size(network, n, args.time_limit, tmp) for n in args.sizes]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "write_stage.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    columns = ["bins", "stops", "lorries_used", "report_s", "report_cpu_s", "files_s", "files_cpu_s", "write_s"]
    columns += ["write_cpu_s", "output_mb"]
    text = table(rows, columns)
    (RESULTS / "write_stage.md").write_text(f"# Writing a big plan ({source})\n\n{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
