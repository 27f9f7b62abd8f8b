"""End to end: ``binroute plan`` on the sample town, checked independently."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely

from binroute.geo import OSM_ATTRIBUTION, load_network
from binroute.routing import check_solution

from ...helpers import plan_sample

STAGES = {"graph", "forecast", "matrix", "solve", "write"}

#: Each test plans the sample town (through the command line or in process).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def planned(sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    run = plan_sample(out, "--solution-limit", "30", "--time-limit", "60", "--engine", "ortools")
    return out, run


def test_outputs_exist_and_progress_is_shown(planned):
    """The CLI writes both files and reports its stages."""
    out, run = planned
    assert (out / "routes.geojson").is_file() and (out / "plan.json").is_file()
    for stage in ("graph:", "forecast:", "matrix:", "solve:"):
        assert stage in run.stderr


def test_plan_json_totals_and_timings(planned):
    """plan.json has totals per vehicle and overall, skipped bins with reasons and stage timings."""
    plan = json.loads((planned[0] / "plan.json").read_text())
    assert set(plan["timings_s"]) == STAGES
    used = [v for v in plan["vehicles"] if v["used"]]
    assert used
    assert plan["totals"]["bins"] == sum(v["bins"] for v in used)
    assert plan["totals"]["km"] == pytest.approx(sum(v["km"] for v in used), abs=0.01)
    assert all(s["reason"] for s in plan["skipped"])
    # Every bin left names the day it is due by within the horizon, or none; the rule used is stated.
    rule = plan["collect_rule"]
    assert rule["horizon_days"] >= 1 and 0 < rule["tolerated_risk"] < 1 and rule["lift_cost"] > 0
    last = date.fromisoformat(plan["date"]) + timedelta(days=rule["horizon_days"])
    for s in plan["skipped"]:
        assert s["planned_for"] is None or plan["date"] < s["planned_for"] <= last.isoformat()
    assert plan["attribution"] == OSM_ATTRIBUTION
    assert not plan["unserved_required"]


def test_council_kpis_add_up(planned):
    """Per-vehicle crew-day figures (hours paid and worked, fuel, CO2, lifts, tonnes, cost) sum to the totals."""
    plan = json.loads((planned[0] / "plan.json").read_text())
    totals, used = plan["totals"], [v for v in plan["vehicles"] if v["used"]]
    assert totals["crews_used"] == len(used) == totals["vehicles_used"]
    for key in ("km", "hours", "paid_hours", "overtime_hours", "fuel_l", "kwh", "kg_co2", "tonnes", "cost"):
        assert totals[key] == pytest.approx(sum(v[key] for v in plan["vehicles"]), abs=0.01), key
    assert totals["lifts"] == sum(v["lifts"] for v in used) == totals["bins"]
    for v in used:
        assert v["paid_hours"] >= v["hours"] and 0 < v["utilisation"] <= 1
        assert v["kg_co2"] == pytest.approx(1.1 * v["km"], abs=0.01)  # diesel default
        assert v["cost"] >= 450  # a crew-day at least
    assert totals["utilisation"] == pytest.approx(totals["hours"] / totals["paid_hours"], abs=0.001)
    assert plan["objective"] >= totals["cost"] - 0.01
    assert totals["bins_left"] == len(plan["skipped"])
    assert all("p_overflow" in s for s in plan["skipped"])


def test_independent_check_of_the_written_plan(planned, sample_dir):
    """Every chosen bin once, capacities kept, a tip before each return, all read from the files."""
    plan = json.loads((planned[0] / "plan.json").read_text())
    fleet = json.loads((sample_dir / "fleet.json").read_text())
    caps = {v["id"]: (v["capacity_kg"], v["capacity_l"]) for v in fleet["vehicles"]}
    facility_ids = {f["id"] for f in fleet["facilities"]}
    served: list[str] = []
    for v in plan["vehicles"]:
        stops = v["stops"]
        assert stops[0]["kind"] == "depot" and stops[-1]["kind"] == "depot"
        if not v["used"]:
            continue
        assert stops[-2]["kind"] == "tip", f"{v['vehicle_id']} returns without tipping"
        for s in stops:
            assert s["load_kg"] <= caps[v["vehicle_id"]][0]
            assert s["load_l"] <= caps[v["vehicle_id"]][1]
            if s["kind"] == "tip":
                assert s["id"] in facility_ids and s["load_kg"] == 0
            if s["kind"] == "bin":
                served.append(s["id"])
        etas = [s["eta"] for s in stops]
        assert etas == sorted(etas)
    assert len(served) == len(set(served))
    skipped = {s["bin_id"] for s in plan["skipped"]}
    assert not (set(served) & skipped)
    musts = {s["bin_id"] for s in plan["skipped"] if s["decision"] == "must"}
    assert not musts


def test_geojson_follows_the_road_network(planned, sample_dir):
    """Trip lines are RFC 7946 LineStrings whose every vertex lies on a network edge."""
    fc = json.loads((planned[0] / "routes.geojson").read_text())
    assert fc["type"] == "FeatureCollection" and fc["attribution"] == OSM_ATTRIBUTION
    lines = [f for f in fc["features"] if f["geometry"]["type"] == "LineString"]
    stops = [f for f in fc["features"] if f["properties"].get("kind") == "stop"]
    assert lines and stops
    for f in stops:
        for key in ("vehicle_id", "sequence", "bin_id", "eta", "predicted_fill_pct", "load_kg"):
            assert key in f["properties"]
    net = load_network(sample_dir / "network.osm.pbf")
    tr = net.transformer()
    edges = []
    for g in net.geometry:
        x, y = tr.transform(g[:, 0], g[:, 1])
        edges.append(shapely.LineString(np.column_stack([x, y])))
    roads = shapely.union_all(edges)
    for f in lines:
        c = np.asarray(f["geometry"]["coordinates"])
        assert c.shape[0] >= 2
        x, y = tr.transform(c[:, 0], c[:, 1])
        far = shapely.distance(roads, shapely.points(np.column_stack([x, y])))
        assert far.max() < 1.0, f"trip of {f['properties']['vehicle_id']} leaves the roads by {far.max():.1f} m"


@pytest.fixture(scope="module")
def in_process(sample_dir):
    """The sample planned in this process (deterministic: a solution limit and no time limit)."""
    from datetime import date

    from binroute.api.pipeline import PlanOptions, plan_scenario
    from binroute.api.pipeline.scenario import load_scenario

    return plan_scenario(
        load_scenario(sample_dir), PlanOptions(date=date(2026, 11, 23), time_limit_s=None, solution_limit=60)
    )


def test_pipeline_solution_passes_the_checker(in_process):
    """The in-process pipeline's solution passes the routing checker with every required bin."""
    result = in_process
    report = check_solution(result.problem, result.solution, require_all=True)
    assert report.ok, str(report)
    # The sample has a driver break, so "auto" combines PyVRP with OR-Tools (in each district, when the day is
    # planned in districts); a lorry with a break used gets it.
    assert result.solution.engine in (
        "pyvrp+ortools",
        "pyvrp+schedule",
        "decomposed",
        "decomposed+pyvrp",
        "decomposed+priced",
    )
    breaks = {v.id for v in result.problem.vehicles if v.break_ is not None}
    assert breaks
    assert all(r.break_ is not None for r in result.solution.routes if r.used and r.vehicle_id in breaks)


def test_writing_twice_leaves_the_result_alone(in_process, tmp_path):
    """write_plan does not change the result: a second write counts its own time once, not both."""
    import copy

    from binroute.api.pipeline import write_plan

    before = copy.deepcopy(in_process.plan)
    for name in ("a", "b"):
        write_plan(in_process, tmp_path / name, exports=())
    assert in_process.plan == before
    for name in ("a", "b"):
        written = json.loads((tmp_path / name / "plan.json").read_text())
        assert written["timings_s"]["write"] >= before["timings_s"]["write"]
        assert {**written, "timings_s": before["timings_s"]} == before


def test_bad_scenario_exits_2_with_one_line(tmp_path):
    """A missing scenario gives a clear message and exit code 2, no traceback."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "binroute.api.cli",
            "plan",
            str(tmp_path / "nope"),
            "--date",
            "2026-11-23",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "scenario directory not found" in run.stderr


def test_sample_is_reproducible(tmp_path, sample_dir, monkeypatch):
    """The committed generator reproduces the committed bins exactly (fixed seed)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sample", sample_dir.parent / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", Path(tmp_path))
    (tmp_path / "network.osm.pbf").write_bytes((sample_dir / "network.osm.pbf").read_bytes())
    import numpy as np

    bins = module.place_bins(np.random.default_rng(module.SEED))
    committed = (sample_dir / "bins.csv").read_text().splitlines()[1]
    assert bins.iloc[0]["bin_id"] == committed.split(",")[0]
    assert f"{bins.iloc[0]['lon']}" == committed.split(",")[1]


def test_routes_obey_turn_rules_by_an_independent_audit(planned, sample_dir):
    """Read from the OSM file itself: no forbidden turn on any trip, U-turns only at dead ends or turning places,
    and every bin served from the kerb where plan.json says so."""
    from binroute.geo.audit import arrival_side, forbidden_turns, read_turn_facts, u_turns

    out = planned[0]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["turn_model"] == "turns" and plan["totals"]["illegal_turns"] == 0
    fleet = json.loads((sample_dir / "fleet.json").read_text())
    size = {"maxweight": "weight_t", "maxheight": "height_m", "maxwidth": "width_m", "maxlength": "length_m"}
    default = {"maxweight": 26.0, "maxheight": 3.6, "maxwidth": 2.55, "maxlength": 10.0}
    facts = {
        v["id"]: read_turn_facts(
            sample_dir / "network.osm.pbf", lorry={k: float(v.get(f, default[k])) for k, f in size.items()}
        )
        for v in fleet["vehicles"]
    }
    assert all(f.restrictions for f in facts.values())  # the sample has turn restrictions, so the check can fail
    features = json.loads((out / "routes.geojson").read_text())["features"]
    trips = [f for f in features if f["properties"]["kind"] == "trip"]
    seen_u_turns = reversing = 0
    for trip in trips:
        line = np.asarray(trip["geometry"]["coordinates"], dtype=float)
        lorry = facts[trip["properties"]["vehicle_id"]]
        assert forbidden_turns(lorry, line) == [], trip["properties"]
        reasons = [r for _, r in u_turns(lorry, line)]
        assert set(reasons) <= {"dead end", "turning place"}, trip["properties"]
        seen_u_turns += len(reasons)
        reversing += reasons.count("dead end")
    assert seen_u_turns == plan["totals"]["u_turns"]
    assert reversing == plan["totals"]["reversing"]
    # Walk-outs: the walk within the setting, no main road crossed, the lorry on a through street.
    from binroute.geo.walk_audit import WalkOutChecker, walk_out_stops

    at = {
        row.split(",")[0]: tuple(map(float, row.split(",")[1:3]))
        for row in (sample_dir / "bins.csv").read_text().splitlines()[1:]
    }
    walked = walk_out_stops(features, at)
    assert len(walked) == plan["totals"]["walk_outs"]
    checker = WalkOutChecker(next(iter(facts.values())), within_m=25.0)
    assert [(w.bin_id, checker.check(w)) for w in walked if checker.check(w)] == []
    # Kerb side: the bin stands on the side the plan says as the lorry arrives at its stop.
    bins = {row.split(",")[0]: row.split(",") for row in (sample_dir / "bins.csv").read_text().splitlines()[1:]}
    lines = {
        (t["properties"]["vehicle_id"], t["properties"]["trip"]): np.asarray(t["geometry"]["coordinates"])
        for t in trips
    }
    stops = [f for f in features if f["properties"]["kind"] == "stop"]
    checked = 0
    for stop in stops:
        props = stop["properties"]
        if props["side"] != "kerb":
            continue
        x, y = stop["geometry"]["coordinates"]
        for (vid, _), line in lines.items():
            if vid != props["vehicle_id"]:
                continue
            near = np.flatnonzero(np.all(np.abs(line - [x, y]) < 1e-6, axis=1))
            if len(near) and near[0] > 0:
                row = bins[props["bin_id"]]
                assert arrival_side(line[: near[0] + 1], float(row[1]), float(row[2])) == "right", props
                checked += 1
                break
    assert checked > 0
