"""Walk-outs through the whole pipeline: the plan, its counts and the crew's files, on a hand-drawn town."""

from __future__ import annotations

import json
from datetime import date

import pytest

from binroute.api.pipeline import PlanOptions, load_scenario, plan_scenario, write_plan
from binroute.geo.audit import forbidden_turns, read_turn_facts, u_turns
from binroute.geo.walk_audit import WalkOutChecker, walk_out_stops
from binroute.routing import check_solution

from ...geo.walkout_town import in_spur, in_spur_11, write_town

#: B1 10 m into the dead end off 5 (walked out), B2 60 m into the one off 2 (a turning circle at its end),
#: B3 on the ring.
BINS = {"B1": in_spur(10), "B2": in_spur_11(60), "B3": (24.0005, 60.00003)}


def _scenario(folder, *, walk_out_m: float | None = None):
    folder.mkdir()
    write_town(folder / "network.osm", turning_circle_at_11=True)
    rows = ["bin_id,lon,lat,stream,capacity_l"] + [f"{b},{x:.7f},{y:.7f},general,240" for b, (x, y) in BINS.items()]
    (folder / "bins.csv").write_text("\n".join(rows) + "\n")
    readings = ["bin_id,timestamp,fill_pct"] + [f"{b},2026-11-22T12:00:00Z,95" for b in BINS]
    (folder / "readings.csv").write_text("\n".join(readings) + "\n")
    turns = {} if walk_out_m is None else {"walk_out_m": walk_out_m}
    fleet = {
        "timezone": "UTC",
        "depots": [{"id": "D", "lon": 24.0012, "lat": 60.00103, "opens": "05:00", "closes": "20:00"}],
        "facilities": [
            {
                "id": "S",
                "lon": 24.0008,
                "lat": 60.00103,
                "streams": ["general"],
                "opens": "05:00",
                "closes": "20:00",
                "tip_minutes": 15,
            }
        ],
        "vehicles": [
            {
                "id": "V1",
                "depot": "D",
                "streams": ["general"],
                "capacity_kg": 10000,
                "capacity_l": 22000,
                "shift_start": "06:00",
                "shift_end": "16:00",
            }
        ],
        "planning": {"max_snap_m": 400, "turns": turns},
    }
    (folder / "fleet.json").write_text(json.dumps(fleet))
    return load_scenario(folder)


def _plan(scn):
    return plan_scenario(scn, PlanOptions(date=date(2026, 11, 23), solution_limit=5, seed=0))


def test_a_plan_walks_out_the_near_bin_and_turns_at_the_turning_circle(tmp_path):
    """The bin 10 m in is a walk-out (the lorry waits on the ring), the one 60 m in is served by turning at the
    turning circle: no reversing. plan.json, the GeoJSON, the route sheet and the GPX say so; the checker, the
    turn audit and the independent walk-out check pass."""
    scn = _scenario(tmp_path / "town")
    result = _plan(scn)
    assert check_solution(result.problem, result.solution).ok
    totals = result.plan["totals"]
    assert (totals["walk_outs"], totals["reversing"], totals["turning_place_u_turns"]) == (1, 0, 1)
    assert totals["illegal_turns"] == 0
    (vehicle,) = [v for v in result.plan["vehicles"] if v["used"]]
    (walk,) = vehicle["walk_outs"]
    assert walk["bin_id"] == "B1" and walk["walk_m"] == pytest.approx(13.0, abs=0.5)
    stop = next(s for s in vehicle["stops"] if s["id"] == "B1")
    assert stop["side"] == "walk-out" and stop["walk_out_m"] == walk["walk_m"]
    assert len(vehicle["turning_place_u_turns"]) == 1 and vehicle["reversing"] == []
    kinds = [f["properties"]["kind"] for f in result.geojson["features"]]
    assert kinds.count("u_turn") == 1 and "reversing" not in kinds
    # The audits, from the OSM file.
    path = tmp_path / "town" / "network.osm"
    facts = read_turn_facts(path)
    for f in result.geojson["features"]:
        if f["properties"]["kind"] == "trip":
            line = f["geometry"]["coordinates"]
            assert forbidden_turns(facts, line) == []
            assert [r for _, r in u_turns(facts, line)] in ([], ["turning place"])
    checker = WalkOutChecker(facts, within_m=scn.fleet.planning.turns.walk_out_m)
    stops = walk_out_stops(result.geojson["features"], BINS)
    assert [s.bin_id for s in stops] == ["B1"] and checker.check(stops[0]) == []
    # The crew's files.
    files = write_plan(result, tmp_path / "out", exports=("csv", "gpx"))
    sheet = (files["csv"] / "V1.csv").read_text()
    assert "walk_out_m" in sheet.splitlines()[0] and ",walk-out," in sheet
    gpx = (files["gpx"] / "V1.gpx").read_text()
    assert "walk out 13" in gpx and "U-turn (turning place)" in gpx


def test_without_walk_outs_the_lorry_drives_in_and_reverses(tmp_path):
    """With ``walk_out_m`` 0 the lorry drives into the dead end without a turning place and reverses there."""
    result = _plan(_scenario(tmp_path / "town", walk_out_m=0))
    totals = result.plan["totals"]
    assert (totals["walk_outs"], totals["reversing"], totals["turning_place_u_turns"]) == (0, 1, 1)
    (vehicle,) = [v for v in result.plan["vehicles"] if v["used"]]
    assert len(vehicle["reversing"]) == 1
    stop = next(s for s in vehicle["stops"] if s["id"] == "B1")
    assert stop["walk_out_m"] is None and stop["side"] != "walk-out"
    assert sum(s["reversing_before"] for s in vehicle["stops"]) == 1
