"""Rounds a crew can own (issue #30): compact districts against the free whole-day search, and crews kept day to day.

    python -m benchmarks.rounds [--cases sample milan300 milan1000 city] [--time-limit 30]
                                [--seeds 0 1] [--plans free districts like]

For each case two consecutive days are planned through the real pipeline
(:func:`binroute.api.pipeline.plan_scenario`), the bins chosen by the
forecast each day:

* day 1 with ``rounds="free"`` (one search over the whole day, as before
  issue #30) and ``rounds="districts"`` (the default): km, crew-hours,
  lorries, required bins left, and the territory overlap of the rounds,
  both over every pair of rounds (``overlap``) and over rounds that collect
  a common stream (``overlap_same_stream``, see :mod:`binroute.api.pipeline.rounds`);
* day 2 in each mode, and with districts ``--like`` day 1's plan: the share
  of the bins collected on both days that keep their crew.

Cases: the bundled sample (its two days from its own readings); the Milan
extract in ``../shared/osm`` (© OpenStreetMap contributors, ODbL) with 300
and 1,000 bins placed along the streets (:func:`benchmarks.kerbside._along_streets`),
two depots and two disposal sites; a generated street grid
(:mod:`benchmarks.gen_city`) with 900 bins. On the generated days each bin
fills at its own rate; day 2's readings show about half the bins emptied
on day 1, so the forecast chooses a different, overlapping set. Milan is
skipped when absent. Results: ``benchmarks/results/rounds.{csv,json,md}``
(``--name`` for another name).

Free and district plans get the same time limit and the same solver seed;
``--seeds`` repeats every case with each seed (the row's ``seed``), since a
time-limited search on a shared machine varies by a few per cent from run to
run. ``--plans`` picks the modes to run (``like`` needs ``districts``): the
free search's code is the same on every branch, so a before-and-after
comparison of districts can run it once.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from .common import RESULTS, ROOT, table, write_results

DAY = date(2026, 11, 23)
SEED = 30
MILAN = ROOT.parent / "shared" / "osm" / "milan_italy_small.osm.pbf"
SAMPLE = ROOT / "sample_data" / "helsinki"
#: Bins per lorry in the fleet of a generated day (the forecast collects about two thirds of them).
BINS_PER_LORRY = 90
CASES = ("sample", "milan300", "milan1000", "city")


def _write_day(folder: Path, network: Path, n_bins: int, seed: int) -> None:
    """A scenario on ``network``: bins along the streets, two depots, two sites, day 1's and day 2's readings."""
    from binroute.geo import load_network

    from .big_day import write_fleet
    from .kerbside import _along_streets

    net = load_network(network)
    rng = np.random.default_rng(seed)
    lon, lat = _along_streets(net, n_bins + 4, rng)
    write_fleet(folder, lon, lat, max(2, math.ceil(n_bins / BINS_PER_LORRY)), timezone="Europe/Rome")
    ids = [f"B{i:05d}" for i in range(n_bins)]
    rows = ["bin_id,lon,lat,stream,capacity_l"]
    rows += [f"{b},{lon[i + 4]:.7f},{lat[i + 4]:.7f},general,240" for i, b in enumerate(ids)]
    (folder / "bins.csv").write_text("\n".join(rows) + "\n")
    rate = rng.uniform(8, 30, n_bins)  # % a day
    start = rng.uniform(0, 40, n_bins)
    readings = ["bin_id,timestamp,fill_pct"]
    for i, b in enumerate(ids):
        for k, days in enumerate((3, 2, 1)):
            pct = min(100.0, start[i] + rate[i] * k)
            readings.append(f"{b},{(DAY - timedelta(days=days)).isoformat()}T22:00:00,{pct:.1f}")
    (folder / "readings.csv").write_text("\n".join(readings) + "\n")
    (folder / "scenario.json").write_text(json.dumps({"network": str(network.resolve())}))
    # Day 2: a reading on the evening of day 1, about half the bins emptied that day.
    emptied = rng.random(n_bins) < 0.5
    later = [
        f"{b},{DAY.isoformat()}T22:00:00,{(rate[i] * 0.4 if emptied[i] else min(100.0, start[i] + rate[i] * 3)):.1f}"
        for i, b in enumerate(ids)
    ]
    (folder / "readings-day2.csv").write_text("\n".join(readings + later) + "\n")


def _day2(folder: Path, into: Path) -> Path:
    """``folder`` as day 2's scenario (its day-2 readings), copied into ``into``."""
    if into.exists():
        return into
    shutil.copytree(folder, into)
    if (into / "readings-day2.csv").is_file():
        (into / "readings-day2.csv").replace(into / "readings.csv")
    return into


def _plan(
    folder: Path, day: date, rounds: str, time_limit: float, like: dict[str, str] | None = None, *, seed: int = 0
) -> dict[str, Any]:
    """Plan ``folder`` for ``day``; the figures the benchmark keeps and each collected bin's crew."""
    from binroute.api.pipeline import PlanOptions, load_scenario, plan_scenario

    began = time.perf_counter()
    options = PlanOptions(date=day, time_limit_s=time_limit, seed=seed, rounds=rounds, usual_crews=like, like="day 1")
    result = plan_scenario(load_scenario(folder), options)
    plan = result.plan
    t = plan["totals"]
    crews = {s["id"]: v["vehicle_id"] for v in plan["vehicles"] for s in v["stops"] if s["kind"] == "bin"}
    short = plan.get("fleet_short") or {}
    return {
        "bins": t["bins"],
        "lorries": t["vehicles_used"],
        "km": t["km"],
        "crew_h": t["hours"],
        "required_left": len(plan["unserved_required"]),
        "overlap": t["territory_overlap"],
        "overlap_same_stream": t["territory_overlap_same_stream"],
        "extra_crews": short.get("extra_crews", 0),
        "wall_s": round(time.perf_counter() - began, 1),
        "priced": _priced(result.solution.details.get("priced_search")),
        "won": _won(result.solution.details),
        "crews": crews,
    }


def _priced(note: object) -> str:
    """What the priced whole-day search did (:mod:`binroute.routing.decompose.priced`), in a few words."""
    if not isinstance(note, dict):
        return ""
    if "skipped" in note:
        return f"skipped: {note['skipped']}"
    if note.get("kept"):
        return f"kept, {note.get('moved', 0)} moved"
    return "not better" if not note.get("better") else "mixed more"


def _won(details: dict[str, Any]) -> str:
    """Which plan a district day kept: the districts' (searched with a price), the free plan, or it tidied."""
    if "priced_search" not in details:
        return ""
    if not details.get("free_kept_over_districts"):
        return "districts"
    return "tidied" if details.get("tidied", {}).get("areas_changed") is not None else "free"


def _kept(a: dict[str, str], b: dict[str, str]) -> tuple[int, float]:
    """Bins collected on both days, and the share of them with the same crew."""
    both = set(a) & set(b)
    return len(both), round(sum(a[x] == b[x] for x in both) / len(both), 3) if both else float("nan")


PLANS = ("free", "districts", "like")


def run_case(
    name: str, folder: Path, time_limit: float, tmp: Path, *, seed: int = 0, modes: tuple[str, ...] = PLANS
) -> list[dict[str, Any]]:
    """The case's rows (those of ``modes``): day 1 free and districts, day 2 free, districts, districts like day 1."""
    second = _day2(folder, tmp / f"{name}-day2")
    day2 = DAY + timedelta(days=1)
    rows = []
    plans = {}
    for label, where, day, rounds, like_of in (
        ("day1 free", folder, DAY, "free", None),
        ("day1 districts", folder, DAY, "districts", None),
        ("day2 free", second, day2, "free", None),
        ("day2 districts", second, day2, "districts", None),
        ("day2 districts --like day1", second, day2, "districts", "day1 districts"),
    ):
        if ("like" if like_of else rounds) not in modes:
            continue
        like = plans[like_of]["crews"] if like_of else None
        record = _plan(where, day, rounds, time_limit, like, seed=seed)
        plans[label] = record
        row = {"case": name, "seed": seed, "plan": label, **{k: v for k, v in record.items() if k != "crews"}}
        first = plans.get("day1 free" if rounds == "free" else "day1 districts")
        if label.startswith("day2") and first is not None:
            row["both_days"], row["kept_crew"] = _kept(first["crews"], record["crews"])
        rows.append(row)
        print(f"  {name} {label}: {json.dumps({k: v for k, v in row.items() if k not in ('case', 'plan')})}")
    return rows


COLUMNS = [
    "case",
    "seed",
    "plan",
    "bins",
    "lorries",
    "km",
    "crew_h",
    "required_left",
    "overlap",
    "overlap_same_stream",
    "extra_crews",
    "both_days",
    "kept_crew",
    "priced",
    "won",
    "wall_s",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--city", type=int, default=30, help="side of the generated grid (intersections)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="solver seeds, each case run with each")
    parser.add_argument("--plans", nargs="+", choices=PLANS, default=list(PLANS), help="modes to plan")
    parser.add_argument("--name", default="rounds", help="results file name (benchmarks/results/NAME.*)")
    args = parser.parse_args(argv)
    if "like" in args.plans and "districts" not in args.plans:
        parser.error("--plans like needs districts (day 2 is planned like day 1's district plan)")
    modes = tuple(args.plans)
    rows: list[dict[str, Any]] = []
    skipped = []
    with tempfile.TemporaryDirectory(prefix="rounds-") as name:
        tmp = Path(name)
        for case in args.cases:
            if case == "sample":
                for seed in args.seeds:
                    rows += run_case(case, SAMPLE, args.time_limit, tmp, seed=seed, modes=modes)
                continue
            if case.startswith("milan") and not MILAN.is_file():
                skipped.append(f"{case}: {MILAN} not found")
                continue
            if case == "city":
                from .gen_city import write_city

                network, n_bins = write_city(tmp / "city.osm", args.city, seed=SEED), 900
            else:
                network, n_bins = MILAN, int(case.removeprefix("milan"))
            folder = tmp / case
            folder.mkdir()
            _write_day(folder, network, n_bins, SEED)
            for seed in args.seeds:
                rows += run_case(case, folder, args.time_limit, tmp, seed=seed, modes=modes)
                write_results(args.name, rows, {"time_limit_s": args.time_limit, "skipped": skipped})
    meta = {
        "time_limit_s": args.time_limit,
        "data_seed": SEED,
        "seeds": args.seeds,
        "skipped": skipped,
        "day": DAY.isoformat(),
    }
    write_results(args.name, rows, meta)
    text = table(rows, COLUMNS)
    note = "Milan network data © OpenStreetMap contributors, ODbL."
    skips = "".join(f"\nskipped {s}" for s in skipped)
    title = f"# Rounds (--time-limit {args.time_limit:g}, seeds {' '.join(map(str, args.seeds))})"
    (RESULTS / f"{args.name}.md").write_text(f"{title}\n\n{text}\n\n{note}{skips}\n")
    print(text + skips)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
