"""A big city's day (issue #19): thousands of stops through the whole plan pipeline.

``python -m benchmarks.big_day [--sizes 2000 5000] [--ten-thousand] [--time-limit 300]``

Builds a day of N bins at random points of the road network (fixed seed),
two depots, two disposal sites and a fleet of one lorry per
:data:`BINS_PER_LORRY` bins, as a scenario directory, and runs
:func:`binroute.api.pipeline.plan.plan_scenario` on it in a child process. Records
the pipeline's stage times, the peak resident memory of all processes
together (the child and its helpers, sampled from ``/proc``: RSS summed,
when it peaked, and the peak of PSS summed, which counts a page the
processes share once), the plan's
cost, km, required bins left and the territory overlap of its rounds
(:func:`binroute.geo.territory.territory_overlap`), and where the km go: per leg
type (depot, collection, tip legs) with what the depot and tip legs would
be at their shortest and a lower bound on the collection km
(:mod:`benchmarks.km_legs`), with a lower bound on the km of any plan of
the same bins in as many routes and trips (an assignment relaxation,
computed after the plan, outside the peak memory). Results go to
``benchmarks/results/big_day.{json,md}``.

The network is the Milan extract ``../shared/osm/milan_italy_small.osm.pbf``
(© OpenStreetMap contributors, ODbL); without it the benchmark skips, unless
``--generated SIZE`` asks for a generated street grid
(:mod:`benchmarks.gen_city`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from .common import RESULTS, ROOT, table
from .km_legs import assignment_bound_km, collect_lower_bound_km, forced_km, km_by_leg

MILAN = ROOT.parent / "shared" / "osm" / "milan_italy_small.osm.pbf"
BINS_PER_LORRY = 130
DAY = date(2026, 10, 5)
SEED = 19


#: With ``--forecast``: the share of the bins the forecast is expected to collect, and bins per lorry of those
#: (a fleet sized for an average day, as a council's is: a fuller day leaves bins, and says so).
FORECAST_SHARE = 0.55
FORECAST_BINS_PER_LORRY = 140


def write_fleet(folder: Path, lon: np.ndarray, lat: np.ndarray, lorries: int, *, timezone: str) -> None:
    """``folder/fleet.json``: two depots at the first two points, two sites at the next two, ``lorries`` lorries.

    The lorries alternate between the depots; the rest (streams, costs) is the sample's.
    """
    depots = [
        {"id": f"D{k}", "lon": float(lon[k]), "lat": float(lat[k]), "opens": "05:00", "closes": "22:00"} for k in (0, 1)
    ]
    sites = [
        {
            "id": f"S{k}",
            "lon": float(lon[k + 2]),
            "lat": float(lat[k + 2]),
            "streams": ["general"],
            "opens": "05:00",
            "closes": "22:00",
            "tip_minutes": 15,
        }
        for k in (0, 1)
    ]
    vehicles = [
        {
            "id": f"L{k:03d}",
            "depot": f"D{k % 2}",
            "streams": ["general"],
            "capacity_kg": 10_000,
            "capacity_l": 22_000,
            "shift_start": "06:00",
            "shift_end": "14:30",
        }
        for k in range(lorries)
    ]
    fleet = json.loads((ROOT / "sample_data" / "helsinki" / "fleet.json").read_text())
    fleet.update(timezone=timezone, depots=depots, facilities=sites, vehicles=vehicles)
    (folder / "fleet.json").write_text(json.dumps(fleet, indent=1))


def _scenario(folder: Path, network: Path, n_bins: int, *, forecast: bool = False) -> None:
    """Write a scenario directory with ``n_bins`` full bins on ``network`` (``forecast``: bins filling at their own
    rates, so the forecast chooses about :data:`FORECAST_SHARE` of them, and a fleet sized for that)."""
    from binroute.geo import load_network

    net = load_network(network)
    rng = np.random.default_rng(SEED)
    # Points along random edges, so every bin is on a street.
    edges = rng.choice(net.n_edges, size=n_bins + 4, replace=False)
    u, v = net.edge_u[edges], net.edge_v[edges]
    f = rng.uniform(0.2, 0.8, size=len(edges))
    lon = net.lon[u] * (1 - f) + net.lon[v] * f
    lat = net.lat[u] * (1 - f) + net.lat[v] * f
    lorries = max(2, math.ceil(n_bins / BINS_PER_LORRY))
    if forecast:
        lorries = max(2, math.ceil(FORECAST_SHARE * n_bins / FORECAST_BINS_PER_LORRY))
    write_fleet(folder, lon, lat, lorries, timezone="Europe/Rome")
    ids = [f"B{i:05d}" for i in range(n_bins)]
    rows = ["bin_id,lon,lat,stream,capacity_l,service_s,tw_start,tw_end"]
    rows += [f"{b},{lon[i + 4]:.7f},{lat[i + 4]:.7f},general,240,,," for i, b in enumerate(ids)]
    (folder / "bins.csv").write_text("\n".join(rows) + "\n")
    readings = ["bin_id,timestamp,fill_pct"]
    start, rate = rng.uniform(0, 40, n_bins), rng.uniform(8, 30, n_bins)  # % and % a day
    for i, b in enumerate(ids):
        for k, (days, pct) in enumerate(((3, 60), (2, 75), (1, 90))):
            if forecast:
                pct = round(min(100.0, start[i] + rate[i] * k), 1)
            readings.append(f"{b},{(DAY - timedelta(days=days)).isoformat()}T22:00:00+02:00,{pct}")
    (folder / "readings.csv").write_text("\n".join(readings) + "\n")
    (folder / "scenario.json").write_text(json.dumps({"network": str(network.resolve())}))


def _child(folder: Path, time_limit: float, out: Path) -> None:
    """Plan the scenario in ``folder`` and write what the benchmark records to ``out``."""
    from binroute.api.pipeline.options import PlanOptions
    from binroute.api.pipeline.plan import plan_scenario
    from binroute.api.pipeline.scenario import load_scenario
    from binroute.geo import territory_overlap
    from binroute.geo.network import utm_crs

    scn = load_scenario(folder)
    result = plan_scenario(scn, PlanOptions(date=DAY, time_limit_s=time_limit))
    sol, problem = result.solution, result.problem
    at = scn.bins.set_index("bin_id")[["lon", "lat"]]
    rounds = [at.loc[r.bins].to_numpy(dtype=float) for r in sol.routes if r.used]
    crs = utm_crs(float(at["lon"].mean()), float(at["lat"].mean()))
    record = {
        "stops": len(problem.bins),
        "locations": problem.n_locations,
        "lorries": len(problem.vehicles),
        "lorries_used": sol.vehicles_used,
        "timings_s": result.plan["timings_s"],
        "cost": round(sol.objective, 1),
        "km": round(sol.distance / 1000, 1),
        "required_left": sum(u.required for u in sol.unserved),
        "required_left_why": dict(Counter(u.reason for u in sol.unserved if u.required)),
        "territory_overlap": round(territory_overlap(rounds, crs=crs), 3),
        "extra_crews": (result.plan.get("fleet_short") or {}).get("extra_crews", 0),
        "engine": sol.engine,
        "districts": sol.details.get("districts"),
        "matrix_dtype": str(next(iter(problem.matrices.values())).time_s.dtype),
        **{k: v for k, v in sol.details.items() if k.startswith("border_")},
        **km_by_leg(problem, sol),
        "depot_tip_forced_km": forced_km(problem, sol),
        "collect_lower_bound_km": collect_lower_bound_km(problem, sol),
    }
    # The plan is done: the assignment bound's bins × bins arrays are not the planner's memory.
    _planned(out).touch()
    del result
    record["assignment_bound_km"] = assignment_bound_km(problem, sol)
    out.write_text(json.dumps(record))


def _planned(out: Path) -> Path:
    """The file the child creates when the plan and its cheap records are done (peak memory stops there)."""
    return out.with_suffix(".planned")


def _tree_memory_mb(root: int) -> tuple[float, float]:
    """Resident memory of ``root`` and all its descendants, in MiB: RSS summed, and PSS summed.

    RSS counts a page shared by several processes (the solver's shared
    matrices, mapped by each helper) once per process; PSS divides it among
    them, so its sum is the memory the processes really hold together.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        children.setdefault(int(fields["PPid"]), []).append(int(entry))
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, pss, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        pss += _pss_kb(pid)
        todo.extend(children.get(pid, []))
    return total / 1024, pss / 1024


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_size(network: Path, n_bins: int, time_limit: float, *, forecast: bool = False) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="big-day-") as tmp:
        folder = Path(tmp) / f"day{n_bins}"
        folder.mkdir()
        _scenario(folder, network, n_bins, forecast=forecast)
        out = Path(tmp) / "record.json"
        began = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.big_day", "--child", str(folder), str(time_limit), str(out)], cwd=ROOT
        )
        peak, peak_pss, peak_at, wall = 0.0, 0.0, 0.0, None
        while child.poll() is None:
            if wall is None and _planned(out).exists():
                wall = time.perf_counter() - began  # the plan is done; the rest is the benchmark's own bound
            if wall is None:
                rss, pss = _tree_memory_mb(child.pid)
                if rss > peak:
                    peak, peak_at = rss, time.perf_counter() - began
                peak_pss = max(peak_pss, pss)
            time.sleep(0.5)
        if child.returncode != 0:
            return {"bins": n_bins, "error": f"child exited with {child.returncode}"}
        record = json.loads(out.read_text())
    wall = time.perf_counter() - began if wall is None else wall
    return {
        "bins": n_bins,
        "day": "forecast" if forecast else "all due",
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak),
        "peak_pss_mb": round(peak_pss),
        "peak_at_s": round(peak_at, 1),
        **record,
    }


def _write(rows: list[dict[str, object]], meta: dict[str, object], name: str = "big_day") -> str:
    """Write ``NAME.json`` and ``NAME.md``; the Markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    flat = []
    for r in rows:
        stages = r.get("timings_s", {})
        assert isinstance(stages, dict)
        flat.append({**r, **{f"{k}_s": v for k, v in stages.items()}})
    columns = [
        "bins",
        "wall_s",
        "peak_rss_mb",
        "peak_pss_mb",
        "peak_at_s",
        "graph_s",
        "forecast_s",
        "matrix_s",
        "solve_s",
        "write_s",
        "cost",
        "km",
        "required_left",
        "extra_crews",
        "territory_overlap",
        "lorries_used",
        "districts",
    ]
    legs = ["bins", "km", "out_km", "collect_km", "to_tip_km", "from_tip_km", "home_km", "middle_tips"]
    legs += ["depot_tip_forced_km", "collect_lower_bound_km", "assignment_bound_km", "border_pairs_kept", "border_s"]
    text = table(flat, columns) + "\n\nWhere the km go (see benchmarks/km_legs.py):\n\n" + table(flat, legs)
    note = "Network data © OpenStreetMap contributors, ODbL."
    (RESULTS / f"{name}.md").write_text(
        f"# Big day ({meta['network']}, --time-limit {meta['time_limit_s']:g})\n\n{text}\n\n{note}\n"
    )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--ten-thousand", action="store_true", help="also 10,000 bins")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument(
        "--generated", type=int, metavar="SIZE", help="a generated SIZE x SIZE street grid instead of Milan"
    )
    parser.add_argument(
        "--forecast",
        action="store_true",
        help="bins chosen by the forecast (about half), a fleet sized for that, two depots and two sites",
    )
    parser.add_argument("--name", default="big_day", help="results file name (benchmarks/results/NAME.{json,md})")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(Path(args.child[0]), float(args.child[1]), Path(args.child[2]))
        return 0
    sizes = [*args.sizes, *([10_000] if args.ten_thousand else [])]
    with tempfile.TemporaryDirectory(prefix="big-day-net-") as tmp:
        if args.generated:
            from .gen_city import write_city

            network, source = write_city(Path(tmp) / "city.osm", args.generated), f"generated {args.generated}² grid"
        elif MILAN.is_file():
            network, source = MILAN, "Milan (© OpenStreetMap contributors, ODbL)"
        else:
            print(f"skipped: {MILAN} not found (use --generated SIZE for a generated city)")
            return 0
        meta = {"network": source, "time_limit_s": args.time_limit, "seed": SEED, "cores": os.cpu_count()}
        rows: list[dict[str, object]] = []
        for n in sizes:
            rows.append(run_size(network, n, args.time_limit, forecast=args.forecast))
            text = _write(rows, meta, args.name)  # after every size, so a long run keeps what it measured
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
