"""Crews' areas in the pipeline: usual crews from areas, the crew column and a previous plan; a fleet too small."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from binroute.api.pipeline import PlanOptions, load_scenario, plan_scenario
from binroute.api.pipeline.areas import crews_from_plan, load_like, usual_crews
from binroute.api.pipeline.errors import ScenarioError
from binroute.api.pipeline.mapview import map_html
from binroute.routing import check_solution
from binroute.routing.decompose import compact

from ...helpers import SAMPLE

DAY = date(2026, 11, 23)
N_BINS = 30


def _small(tmp: Path, *, shift_end: str = "14:30", crew: dict[str, str] | None = None) -> Path:
    """The sample cut to its first general bins, two general lorries (no break) ending at ``shift_end``."""
    folder = tmp / "town"
    folder.mkdir()
    shutil.copy(SAMPLE / "network.osm.pbf", folder / "network.osm.pbf")
    bins = pd.read_csv(SAMPLE / "bins.csv", dtype=str, keep_default_na=False)
    bins = bins[bins["stream"] == "general"].iloc[:N_BINS].copy()
    # Three evening readings a bin, rising to 90%: every bin due, and a forecast quick to fit.
    rows = [(b, f"2026-11-{20 + k}T22:00:00", pct) for b in bins["bin_id"] for k, pct in enumerate((60, 75, 90))]
    pd.DataFrame(rows, columns=["bin_id", "timestamp", "fill_pct"]).to_csv(folder / "readings.csv", index=False)
    if crew is not None:
        bins["crew"] = [crew.get(b, "") for b in bins["bin_id"]]
    bins.to_csv(folder / "bins.csv", index=False)
    fleet = json.loads((SAMPLE / "fleet.json").read_text())
    lorry = {k: v for k, v in fleet["vehicles"][0].items() if k != "break"}
    fleet["vehicles"] = [{**lorry, "id": f"G{k}", "shift_end": shift_end} for k in (1, 2)]
    (folder / "fleet.json").write_text(json.dumps(fleet))
    return folder


def _square(crew: str) -> dict[str, object]:
    ring = [[24.0, 60.0], [26.0, 60.0], [26.0, 61.0], [24.0, 61.0], [24.0, 60.0]]
    return {"type": "Feature", "properties": {"crew": crew}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_usual_crews_come_from_areas_then_the_column_then_a_previous_plan(tmp_path):
    """A bin inside an area gets its crew; the crew column overrides it, and a previous plan overrides both."""
    folder = _small(tmp_path, crew={})
    bins = pd.read_csv(folder / "bins.csv", dtype=str, keep_default_na=False)
    first, second = bins["bin_id"].iloc[0], bins["bin_id"].iloc[1]
    bins.loc[bins.index[1], "crew"] = "G1"
    bins.to_csv(folder / "bins.csv", index=False)
    (folder / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [_square("G2")]}))
    crews = usual_crews(load_scenario(folder), {first: "G1"})
    assert len(crews) == N_BINS
    assert crews[first] == "G1" and crews[second] == "G1"
    assert set(crews.values()) == {"G1", "G2"}


@pytest.mark.parametrize(
    ("where", "content", "message"),
    [
        ("areas.geojson", {"type": "FeatureCollection", "features": [_square("NOPE")]}, r"features\[0\].*NOPE"),
        ("areas.geojson", {"type": "Feature"}, "FeatureCollection"),
        ("crew", "NOPE", r"bins.csv line 2: crew 'NOPE'"),
    ],
)
def test_an_unknown_crew_is_refused_naming_where(tmp_path, where, content, message):
    """A crew that is not a vehicle of fleet.json, or areas that are not a FeatureCollection, are refused."""
    folder = _small(tmp_path, crew={} if where == "crew" else None)
    if where == "crew":
        bins = pd.read_csv(folder / "bins.csv", dtype=str, keep_default_na=False)
        bins.loc[bins.index[0], "crew"] = content
        bins.to_csv(folder / "bins.csv", index=False)
    else:
        (folder / where).write_text(json.dumps(content))
    with pytest.raises(ScenarioError, match=message):
        usual_crews(load_scenario(folder))


def test_like_needs_a_plan_directory(tmp_path):
    """--like on a directory without plan.json names the file."""
    with pytest.raises(ScenarioError, match=r"plan\.json: file not found"):
        load_like(tmp_path)


def test_a_fleet_too_small_is_said_with_the_crews_it_would_take(tmp_path):
    """Shifts of an hour leave required bins: plan.json and the map say so and how many more crews."""
    scn = load_scenario(_small(tmp_path, shift_end="06:45"))
    result = plan_scenario(scn, PlanOptions(date=DAY, time_limit_s=None, solution_limit=5, include_may=False))
    assert check_solution(result.problem, result.solution).ok
    plan = result.plan
    assert plan["unserved_required"]
    short = plan["fleet_short"]
    assert 1 <= short["bins"] <= len(plan["unserved_required"])  # not those no crew could reach in time
    assert short["extra_crews"] >= 1
    (stream,) = short["by_stream"]
    assert stream["stream"] == "general" and stream["like_vehicle"] in ("G1", "G2") and stream["depot"] == "DEPOT"
    assert "crews are full" in short["message"]
    assert "Fleet too small" in map_html(result.geojson, plan, tiles=None)
    assert plan["totals"]["illegal_turns"] == 0


def test_a_plan_like_its_own_crews_keeps_them(tmp_path):
    """Planned again with its own crews as the usual ones, every bin keeps its crew and plan.json says so."""
    scn = load_scenario(_small(tmp_path))
    options = PlanOptions(date=DAY, time_limit_s=None, solution_limit=5, include_may=False)
    first = plan_scenario(scn, options)
    crews = crews_from_plan(first.plan)
    assert crews
    again = plan_scenario(scn, PlanOptions(**{**options.__dict__, "usual_crews": crews, "like": "first"}))
    assert check_solution(again.problem, again.solution).ok
    changes = again.plan["crew_changes"]
    assert changes["changed"] == 0 and changes["kept"] == len(crews) and changes["source"] == "previous plan first"
    assert again.plan["districts"] and all(len(d["outline"]) >= 4 for d in again.plan["districts"])


def test_routing_judges_compactness_on_the_plans_own_measure(tmp_path):
    """The problem carries each location's position in the plan's metric CRS, so routing's overlap of the
    rounds is plan.json's ``territory_overlap_same_stream``; the council's ``max_overlap`` is a checked field."""
    folder = _small(tmp_path, shift_end="07:15")  # two crews needed
    options = PlanOptions(date=DAY, time_limit_s=None, solution_limit=5, include_may=False)
    result = plan_scenario(load_scenario(folder), options)
    problem = result.problem
    assert problem.positions is not None and problem.positions.shape == (problem.n_locations, 2)
    assert result.solution.vehicles_used == 2
    measured = compact.overlap(problem, result.solution)
    assert measured == pytest.approx(result.plan["totals"]["territory_overlap_same_stream"], abs=0.001)
    fleet = json.loads((folder / "fleet.json").read_text())
    fleet["planning"] = {**fleet.get("planning", {}), "max_overlap": 1.5}
    (folder / "fleet.json").write_text(json.dumps(fleet))
    with pytest.raises(ScenarioError, match="max_overlap"):
        load_scenario(folder)
