"""Simulating from a collection log without roads: the log replayed by hand, as-logged, estimates, wasted lifts."""

from __future__ import annotations

import itertools
import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from binroute.api.cli import main as cli
from binroute.api.pipeline import load_scenario
from binroute.api.pipeline.errors import ScenarioError
from binroute.api.pipeline.roads import ESTIMATE, estimate_travel, great_circle_m, places_of
from binroute.api.pipeline.simulate.replay import Replay, traces_from_log
from binroute.api.pipeline.simulate.report import simulation_html
from binroute.api.pipeline.simulate.run import SimOptions, _seen_frames, policies_from, simulate

H = 3600 * 10**9  # an hour in ns
DAY = 24 * H


def _log(rows):
    """A collection log from ``(bin, hour, fill)`` rows (fill None: blank)."""
    return pd.DataFrame(
        {
            "bin_id": [r[0] for r in rows],
            "collected_at": pd.to_datetime([r[1] * H for r in rows], utc=True),
            "fill_pct": [math.nan if r[2] is None else float(r[2]) for r in rows],
        }
    )


def test_log_replayed_by_hand():
    """Steady rate between logged emptyings; a logged 100% takes the bin's censored rate; spills and wasted lifts.

    Bin a: emptied at hours 0, 24 (60%) and 48 (100%, censored; its rate 150%/day gives 150 points in that day).
    Bin b: emptied at hours 0 and 48 (80%): 40 points a day. A policy empties a at hour 36 and b at hour 12.
    """
    log = _log([("a", 0, 40), ("a", 24, 60), ("a", 48, 100), ("b", 0, 20), ("b", 48, 80)])
    traces = traces_from_log(log, {"a": 150.0, "b": 5.0})
    assert traces["a"].rise.tolist() == [0, 60, 150] and traces["b"].rise.tolist() == [0, 80]
    replay = Replay(traces, start=0)
    day1 = replay.day(0, DAY, {"b": 12 * H})
    assert day1.collected == pytest.approx({"b": 20.0}) and day1.wasted_lifts == 1  # b at 20%: a wasted lift
    assert day1.levels == pytest.approx({"a": 60.0, "b": 20.0}) and day1.overflowing == [] and day1.spilled == {}
    day2 = replay.day(DAY, 2 * DAY, {"a": 36 * H})
    assert day2.collected == pytest.approx({"a": 135.0}) and day2.wasted_lifts == 0  # 60 + 12 h at 150 %/day
    assert day2.levels == pytest.approx({"a": 75.0, "b": 60.0})
    assert day2.overflowing == ["a"] and day2.spilled == pytest.approx({"a": 35.0})
    day3 = replay.day(2 * DAY, 3 * DAY, {})  # the log ends at hour 48: no more waste
    assert day3.levels == pytest.approx({"a": 75.0, "b": 60.0}) and day3.overflowing == []


def test_log_spill_counts_only_the_days_own_waste():
    """A bin over 100% at the day's start spills only what it receives above that in the day."""
    traces = traces_from_log(_log([("a", 0, 10), ("a", 48, 100)]), {"a": 75.0})  # 150 points in two days
    replay = Replay(traces, start=0)
    assert replay.day(0, DAY, {}).spilled == {}  # 75% by the end of day 1
    day2 = replay.day(DAY, 2 * DAY, {})
    assert day2.spilled == pytest.approx({"a": 50.0}) and day2.levels == pytest.approx({"a": 150.0})
    day3 = replay.day(2 * DAY, 3 * DAY, {"a": 60 * H})  # emptied at 150%: nothing more spilled that day
    assert day3.spilled == {} and day3.overflowing == ["a"] and day3.collected == pytest.approx({"a": 150.0})


def test_log_visit_recorded_again_counts_once():
    """The same visit logged twice (an hour apart, or at the same time) is one emptying with the higher fill."""
    log = _log([("a", 0, 0), ("a", 24, 60), ("a", 25, 80), ("a", 25, 80), ("a", 48, 40)])
    trace = traces_from_log(log, {"a": 10.0})["a"]
    assert trace.rise.tolist() == [0, 80, 40] and (trace.times // H).tolist() == [0, 24, 48]


def test_log_blank_fill_takes_the_bins_rate():
    """A collection whose fill was not recorded received the bin's rate times its interval; no rate is an error."""
    assert traces_from_log(_log([("a", 0, 0), ("a", 48, None)]), {"a": 30.0})["a"].rise.tolist() == [0, 60]
    with pytest.raises(ValueError, match="bin a"):
        traces_from_log(_log([("a", 0, 0), ("a", 48, None)]), {})


def test_estimate_is_great_circle_times_the_detour_factor(tmp_path):
    """0.01 degrees of latitude is 1,112 m; times 1.3 on the road, at 25 km/h."""
    assert great_circle_m(np.array([0.0, 0.0]), np.array([0.0, 0.01]))[0, 1] == pytest.approx(1111.95, abs=0.01)
    scn = load_scenario(_scenario(tmp_path))
    travel = estimate_travel(places_of(scn), range(4), scn.fleet)
    assert travel.model == ESTIMATE and travel.estimated
    (matrix,) = travel.matrices.values()
    metres = great_circle_m(np.array([24.94, 24.95]), np.array([60.17, 60.17]))[0, 1] * 1.3
    assert matrix.distance[0, 1] == round(metres) and matrix.time_s[0, 1] == round(metres / (25 / 3.6))


# A log-only scenario without roads: three bins, a depot, 15 days of log (a: every 2 days, b: 3, c: 5).
START = pd.Timestamp("2026-03-02 08:00", tz="UTC")  # a Monday


def _scenario(root, *, bins_csv=None, collections=True):
    root.mkdir(parents=True, exist_ok=True)
    fleet = {
        "depots": [{"id": "D", "lon": 24.94, "lat": 60.17}],
        "vehicles": [
            {"id": "V", "depot": "D", "streams": ["waste"], "capacity_kg": 5000, "capacity_l": 20000,
             "shift_start": "06:00", "shift_end": "14:00"}
        ],
    }  # fmt: skip
    (root / "fleet.json").write_text(json.dumps(fleet))
    default = (
        "bin_id,lon,lat,stream,capacity_l\na,24.95,60.17,waste,240\nb,24.95,60.18,waste,240\nc,24.96,60.18,waste,240\n"
    )
    (root / "bins.csv").write_text(bins_csv or default)
    if collections:
        rows = ["bin_id,collected_at,fill_pct"]
        for b, every, fill in (("a", 2, 60), ("b", 3, 80), ("c", 5, 100)):
            for k in range(0, 15, every):
                rows.append(f"{b},{(START + pd.Timedelta(days=k)).isoformat()},{fill}")
        (root / "collections.csv").write_text("\n".join(rows) + "\n")
    return root


def _logged_per_day(scn, first, last):
    local = scn.collections.assign(day=scn.collections["collected_at"].dt.date)
    days = pd.date_range(first, last).date
    return [int((local["day"] == d).sum()) for d in days]


@pytest.fixture(scope="module")
def log_run(tmp_path_factory):
    """as-logged and a timetable over four days of the log, on estimated distances."""
    scn = load_scenario(_scenario(tmp_path_factory.mktemp("log") / "scn"))
    options = SimOptions(date(2026, 3, 10), date(2026, 3, 13), solution_limit=1, engine="ortools")
    return scn, simulate(scn, policies_from(["as-logged", "timetable:mon,thu"]), options, jobs=1)


def test_as_logged_reproduces_the_logs_lifts(log_run):
    """as-logged lifts, each day, exactly the bins the log emptied that day."""
    scn, result = log_run
    lifts = [d["lifts"] for d in result["policies"]["as-logged"]["days"]]
    assert lifts == _logged_per_day(scn, "2026-03-10", "2026-03-13") and sum(lifts) > 0


def test_log_only_simulation_is_labelled_an_estimate(log_run):
    """No road network: simulation.json says so and lists the assumptions; report.html labels km as estimates."""
    _, result = log_run
    assert result["distances"] == "estimate"
    assert any("estimate" in a and "1.3" in a for a in result["assumptions"])
    assert any("collection log" in a for a in result["assumptions"])
    for data in result["policies"].values():  # the present fields are kept, wasted lifts added
        assert {"km", "overflow_bin_days", "crew_days", "wasted_lifts", "overflow_l"} <= set(data["totals"])
        assert data["totals"]["wasted_lifts"] == sum(d["wasted_lifts"] for d in data["days"])
    page = simulation_html(result)
    assert "km (estimate)" in page and "Cumulative km (estimate)" in page
    assert page.index("Verdict") < page.index("Every policy") and "predictive was not among" in page


def test_cli_summary_labels_the_estimate(tmp_path):
    """The CLI's summary says km are estimates when the scenario has no road network."""
    scn = _scenario(tmp_path / "scn")
    run = CliRunner().invoke(
        cli,
        ["simulate", str(scn), "--from", "2026-03-10", "--to", "2026-03-10", "--policy", "as-logged",
         "--solution-limit", "1", "--engine", "ortools", "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "km (estimate)" in run.output and "estimates: no road network" in run.output
    assert json.loads((tmp_path / "out" / "simulation.json").read_text())["distances"] == "estimate"


def test_predictive_learns_only_from_its_own_collections(log_run):
    """Log-only: a policy sees the real log before the first day, then only what it emptied, in the log's steps.

    No readings, though the replay records levels at the log's times (a council without sensors sees none).
    """
    scn, _ = log_run
    start = int(pd.Timestamp("2026-03-10", tz="UTC").value)
    replay = Replay(traces_from_log(scn.collections, {}), start)
    replay.level_at("a", start + 3 * DAY)  # passes logged times: the replay records levels there
    replay.empty("b", start + 2 * H)
    readings, collections = _seen_frames(scn, replay, start + 3 * DAY)
    assert readings.empty and any(replay.readings.values())
    after = collections[collections["collected_at"].astype("int64") >= start]
    # b: emptied (really) on the 8th at 08:00, 80 points every 3 days: 42 h later 46.7%, logged in 20% steps
    assert after[["bin_id", "fill_pct"]].values.tolist() == [["b", 40.0]]
    assert (collections["collected_at"].astype("int64") < start).sum() == (
        scn.collections["collected_at"].astype("int64") < start
    ).sum()


def test_timetable_on_a_log(log_run):
    """A timetable lifts every bin on its days: Thursday the 12th only, of Tuesday 10th to Friday 13th."""
    _, result = log_run
    assert [d["lifts"] for d in result["policies"]["timetable:mon,thu"]["days"]] == [0, 0, 3, 0]


def test_predictive_runs_on_a_log(log_run):
    """Predictive plans each day from the log and its own collections; the days' figures are counted and verdicted."""
    scn, _ = log_run
    options = SimOptions(date(2026, 3, 11), date(2026, 3, 12), solution_limit=1, engine="ortools")
    result = simulate(scn, policies_from(["predictive", "as-logged", "timetable:thu"]), options, jobs=1)
    days = result["policies"]["predictive"]["days"]
    assert [d["date"] for d in days] == ["2026-03-11", "2026-03-12"]
    assert result["policies"]["predictive"]["totals"]["lifts"] == sum(d["lifts"] for d in days)
    assert "Verdict" in simulation_html(result) and "timetable:thu" in simulation_html(result)


def test_threshold_needs_readings(log_run):
    """A threshold reads levels: on a log-only scenario it is one clear error."""
    scn, _ = log_run
    options = SimOptions(date(2026, 3, 10), date(2026, 3, 10), solution_limit=1)
    with pytest.raises(ScenarioError, match=r"threshold:80.*no readings"):
        simulate(scn, policies_from(["threshold:80"]), options, jobs=1)


@pytest.mark.parametrize(
    ("bins_csv", "where"),
    [
        ("bin_id,stream,capacity_l\na,waste,240\n", "column(s) lon, lat missing"),
        ("bin_id,lon,lat,stream,capacity_l\na,24.9,60.1,waste,240\nb,,,waste,240\n", "line 3: lon/lat blank"),
    ],
)
def test_neither_roads_nor_coordinates_is_one_clear_error(tmp_path, bins_csv, where):
    """Without a network, bins need coordinates: the error names both, and where the coordinates are missing."""
    with pytest.raises(ScenarioError, match="neither a road network") as err:
        load_scenario(_scenario(tmp_path / "scn", bins_csv=bins_csv))
    assert where in str(err.value) and "network.osm" in str(err.value)


def test_a_log_with_one_row_per_bin_is_one_clear_error(tmp_path):
    """A log-only scenario needs two collections of a bin for a fill rate: one each is refused, naming the file."""
    root = _scenario(tmp_path / "scn", collections=False)
    (root / "collections.csv").write_text(
        "bin_id,collected_at,fill_pct\na,2026-03-01T08:00Z,40\nb,2026-03-01T09:00Z,60\n"
    )
    with pytest.raises(ScenarioError, match=r"collections.csv line 2: .* at least two of its collections"):
        load_scenario(root)


def test_plan_without_roads_is_an_estimate(tmp_path):
    """A plan on a scenario without a network: km are the estimate's, labelled in plan.json, map and CLI."""
    scn = _scenario(tmp_path / "scn")
    run = CliRunner().invoke(
        cli,
        ["plan", str(scn), "--date", "2026-03-17", "--solution-limit", "1", "--engine", "ortools",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert plan["distances"] == "estimate" and plan["network"] is None
    assert plan["estimate"]["detour_factor"] == 1.3 and plan["estimate"]["speed_kph"] == 25.0
    (route,) = [v for v in plan["vehicles"] if v["used"]]
    ids = [s["id"] for s in route["stops"]]
    lon = {"D": 24.94, "a": 24.95, "b": 24.95, "c": 24.96}
    lat = {"D": 60.17, "a": 60.17, "b": 60.18, "c": 60.18}
    legs = [
        great_circle_m(np.array([lon[x], lon[y]]), np.array([lat[x], lat[y]]))[0, 1] * 1.3
        for x, y in itertools.pairwise(ids)
    ]
    assert route["km"] == pytest.approx(sum(round(m) for m in legs) / 1000, abs=1e-3)
    assert all(s["street"] is None for s in route["stops"])
    assert "km (estimate)" in run.output and "no road network" in (tmp_path / "out" / "map.html").read_text()


def _totals(km, crew_days, lifts, overflow):
    return {
        "totals": {"km": km, "crew_days": crew_days, "lifts": lifts, "overflow_bin_days": overflow,
                   "wasted_lifts": 0, "kg_co2": km},
        "days": [],
    }  # fmt: skip


def test_verdict_names_the_best_timetable_at_the_same_service():
    """The verdict compares predictive with the fewest-km timetable overflowing no more, in fewer or more."""
    result = {
        "scenario": "s", "from": "2026-01-01", "to": "2026-01-02", "distances": "roads",
        "policies": {
            "predictive": _totals(60.0, 4, 100, 10),
            "timetable:mon": _totals(20.0, 2, 50, 40),  # overflows more: out
            "timetable:mon,thu": _totals(80.0, 4, 200, 10),  # the best at the same service
            "timetable:mon,tue,wed,thu,fri,sat,sun": _totals(200.0, 14, 700, 2),
            "as-logged": _totals(50.0, 3, 80, 12),
        },
    }  # fmt: skip
    page = simulation_html(result)
    assert "25% fewer km, 0% fewer crew-days and 50% fewer lifts than the best fixed timetable" in page
    assert "best timetable: timetable:mon,thu" in page and "(estimate)" not in page
    assert "Against the real service as logged: 25% more lifts" in page


def test_clairvoyant_lifts_each_bin_on_its_last_chance(log_run):
    """Reading the replay's future, nothing overflows after the first day, with fewer lifts than every day.

    The bins gain 30, 27 and 20 points a day or more: each is lifted only on the day before it would
    pass 100% by the next day's shift end, so some days lift fewer than all three.
    """
    scn, _ = log_run
    options = SimOptions(date(2026, 3, 10), date(2026, 3, 13), solution_limit=1, engine="ortools")
    result = simulate(scn, policies_from(["clairvoyant", "timetable:mon,tue,wed,thu,fri,sat,sun"]), options, jobs=1)
    seer, daily = (result["policies"][p] for p in ("clairvoyant", "timetable:mon,tue,wed,thu,fri,sat,sun"))
    assert sum(d["overflow_bin_days"] for d in seer["days"][1:]) == 0
    assert 0 < seer["totals"]["lifts"] < daily["totals"]["lifts"] == 12
