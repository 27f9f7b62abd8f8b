"""``python -m benchmarks.simulate_log``: the business case from a collection log, UC Berkeley's Bigbelly bins.

The Bigbelly log in ``../shared/real_bins/ucb_bigbelly`` (UC Berkeley
Bigbelly data, via AdithyaAyanam/BigBelly-Routing-Dispatch-Project, MIT)
knows each bin's fill only at its real collections, in 20% steps, and has
no road network. It is replayed as a log-only scenario
(:func:`binroute.api.pipeline.simulate.run.traces_of`: a steady fill rate
between logged emptyings, a logged 100% at the bin's censored rate) on
estimated distances (great-circle x the default detour factor), over
:data:`START` to :data:`END` with :data:`HISTORY_DAYS` of the log before
as what a council would know. Policies: ``predictive`` (learning only from
its own collections), ``as-logged`` (the bins really collected each day)
and the fixed timetables from one to seven days a week.

The scenario is written to a temporary directory and loaded as a user's
would be: the bins of ``assets.csv`` with coordinates (bins without are
left out, with their collections), the depot and tip at the bins'
centroid (the log names neither), one lorry per stream, each bin
:data:`BIN_LITRES` litres (a Bigbelly's nominal 150 US gallons). These
are assumptions of the benchmark, not fitted to the data.

Goal (issue #29): predictive needs at least 30% fewer lifts than the real
service at no more overflowing bin-days. ``--overflow-risk R`` sets the
collect rule's tolerated risk in the scenario's planning (as a council
may), to trace predictive's lifts against its overflows. Results go to
``benchmarks/results/simulate_log.{csv,json}``, ``simulation_log.json``
and ``simulate_log_report.html``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from binroute.api.pipeline.simulate import AS_LOGGED, PREDICTIVE, SimOptions, fewer, saving, simulation_html

from .common import RESULTS, table, write_results
from .forecast import REAL, bigbelly_collections
from .simulate import CLAIRVOYANT, TIMETABLES, best_timetable, policy_rows, run_policies

START, END = date(2026, 1, 26), date(2026, 2, 15)
#: Days of the log before START given to the scenario (what the council knows at the start).
HISTORY_DAYS = 90
SOLUTION_LIMIT = 30
#: A Bigbelly's nominal capacity (150 US gallons), litres.
BIN_LITRES = 568.0
TZ = "America/Los_Angeles"
#: The lifts predictive should save against the real service, at no more overflowing bin-days (issue #29).
GOAL_FEWER_LIFTS = 0.30
POLICIES = (PREDICTIVE, AS_LOGGED, *TIMETABLES, CLAIRVOYANT)
CREDIT = "UC Berkeley Bigbelly data, via AdithyaAyanam/BigBelly-Routing-Dispatch-Project (MIT)"
COLUMNS = [
    "policy", "lifts", "wasted_lifts", "km", "crew_days", "kg_co2",
    "overflow_bin_days", "overflow_after_day_one", "overflow_l",
]  # fmt: skip


def write_scenario(
    folder: Path, directory: Path, start: date, end: date, *, overflow_risk: float | None = None
) -> dict[str, Any]:
    """The Bigbelly log as a log-only scenario without roads in ``directory``; returns what was left out.

    ``overflow_risk``, when given, is the council's tolerated risk in ``fleet.json``'s planning (the
    collect rule then lifts a bin above it instead of weighing a lift's cost against an overflow's).
    """
    col, assets = bigbelly_collections(folder)
    placed = assets.dropna(subset=["lon", "lat"])
    first = pd.Timestamp(start - timedelta(days=HISTORY_DAYS)).tz_localize(TZ)
    last = pd.Timestamp(end + timedelta(days=1)).tz_localize(TZ)
    log = col[(col["collected_at"] >= first) & (col["collected_at"] < last) & col["bin_id"].isin(placed["bin_id"])]
    log = log.drop_duplicates(["bin_id", "collected_at"]).sort_values(["collected_at", "bin_id"])
    placed = placed[placed["bin_id"].isin(log["bin_id"])]
    bins = placed.assign(capacity_l=BIN_LITRES)[["bin_id", "lon", "lat", "stream", "capacity_l"]]
    bins.to_csv(directory / "bins.csv", index=False)
    out = log.assign(collected_at=log["collected_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out[["bin_id", "collected_at", "fill_pct"]].to_csv(directory / "collections.csv", index=False)
    lon, lat = float(bins["lon"].mean()), float(bins["lat"].mean())
    streams = sorted(bins["stream"].unique())
    fleet: dict[str, Any] = {
        "timezone": TZ,
        "depots": [{"id": "YARD", "lon": lon, "lat": lat}],
        "facilities": [{"id": "TIP", "lon": lon, "lat": lat, "streams": streams}],
        "vehicles": [
            {
                "id": f"LORRY{k + 1}",
                "depot": "YARD",
                "streams": [s],
                "capacity_kg": 4000,
                "capacity_l": 16000,
                "shift_start": "06:00",
                "shift_end": "14:30",
            }
            for k, s in enumerate(streams)
        ],
    }
    if overflow_risk is not None:
        fleet["planning"] = {"overflow_risk": overflow_risk}
    (directory / "fleet.json").write_text(json.dumps(fleet, indent=1), encoding="utf-8")
    return {
        "bins": len(bins),
        "bins_left_out": int(len(assets) - len(bins)),
        "collections": len(log),
        "streams": streams,
    }


def goal(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue #29's log goal: predictive's lifts against the real service's, at no more overflowing bin-days."""
    by_name = {r["policy"]: r for r in rows}
    ours, real = by_name.get(PREDICTIVE), by_name.get(AS_LOGGED)
    if ours is None or real is None:
        return {"goal_met": False, "why": "predictive and as-logged must both be run"}
    fewer = saving(ours["lifts"], real["lifts"])
    no_more = ours["overflow_bin_days"] <= real["overflow_bin_days"]
    return {
        "predictive_lifts": ours["lifts"],
        "real_lifts": real["lifts"],
        "fewer_lifts": round(fewer, 3),
        "predictive_overflow_bin_days": ours["overflow_bin_days"],
        "real_overflow_bin_days": real["overflow_bin_days"],
        "goal_fewer_lifts": GOAL_FEWER_LIFTS,
        "goal_met": fewer >= GOAL_FEWER_LIFTS and no_more,
    }


def verdict(g: dict[str, Any]) -> str:
    """The goal's comparison in one sentence."""
    if "why" in g:
        return f"No verdict: {g['why']}."
    met = "met" if g["goal_met"] else "not met"
    than = fewer(g["predictive_lifts"], g["real_lifts"], "lifts")
    return (
        f"Predictive {g['predictive_lifts']:.0f} lifts against the real service's {g['real_lifts']:.0f} "
        f"({than}), {g['predictive_overflow_bin_days']:.0f} overflowing bin-days against "
        f"{g['real_overflow_bin_days']:.0f} (goal: {g['goal_fewer_lifts']:.0%} fewer lifts at no more: {met})."
    )


def main(argv: list[str] | None = None) -> int:
    """Replay the log under every policy; write and print the results (skips when the data are absent)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), help="policies to run (default: all)")
    parser.add_argument("--solution-limit", type=int, default=SOLUTION_LIMIT, help="solutions per day (default 30)")
    parser.add_argument("--jobs", type=int, default=1, help="policies simulated at once, one process each")
    parser.add_argument(
        "--overflow-risk",
        type=float,
        default=None,
        help="the tolerated risk of the collect rule, as a council may set it (default: none, the costs decide); "
        "to trace predictive's lifts against its overflows",
    )
    args = parser.parse_args(argv)
    folder = REAL / "ucb_bigbelly"
    if not (folder / "assets.csv").is_file():
        print(f"skipped: {folder} not found")
        return 0
    options = SimOptions(START, END, solution_limit=args.solution_limit, engine="ortools")
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "ucb_bigbelly"
        directory.mkdir()
        data = write_scenario(folder, directory, START, END, overflow_risk=args.overflow_risk)
        result = run_policies(directory, args.policies, options, jobs=args.jobs)
    elapsed = time.perf_counter() - clock
    rows = policy_rows(result)
    g = goal(rows)
    meta = {
        "from": str(START),
        "to": str(END),
        "history_days": HISTORY_DAYS,
        "runtime_s": round(elapsed, 1),
        "jobs": args.jobs,
        "overflow_risk": args.overflow_risk,
        "distances": result["distances"],
        "assumptions": result["assumptions"],
        "data": data,
        "credit": CREDIT,
        **result["solver"],
    }
    write_results("simulate_log", rows, meta | {"goal": g, "best_timetable": best_timetable(rows)})
    (RESULTS / "simulation_log.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (RESULTS / "simulate_log_report.html").write_text(simulation_html(result), encoding="utf-8")
    print(table(rows, COLUMNS))
    print(verdict(g))
    print(f"{elapsed:.0f} s; {CREDIT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
