"""The node-based road model (``planning.turns.model = "nodes"``) plans the sample end to end."""

from __future__ import annotations

import json
import shutil
from datetime import date

import numpy as np
import pytest

from binroute.api.pipeline import PlanOptions, load_scenario, plan_scenario
from binroute.api.pipeline.report import street_names
from binroute.api.pipeline.roads import vehicle_profile
from binroute.geo import drivable_core, routing_graph, snap_points
from binroute.routing import check_solution


@pytest.mark.slow
def test_node_model_plans_the_sample_on_the_lorries_core(sample_dir, tmp_path):
    """Every required bin served, the plan passes the checker, every stop lies on the lorry's drivable core,
    and is named by the street it lies on."""
    folder = tmp_path / "sample"
    shutil.copytree(sample_dir, folder)
    fleet = json.loads((folder / "fleet.json").read_text())
    fleet.setdefault("planning", {}).setdefault("turns", {})["model"] = "nodes"
    (folder / "fleet.json").write_text(json.dumps(fleet))
    scn = load_scenario(folder)
    result = plan_scenario(scn, PlanOptions(date=date(2026, 11, 23), solution_limit=20, engine="ortools"))
    assert check_solution(result.problem, result.solution).ok
    assert not [u for u in result.solution.unserved if u.required]
    rg = routing_graph(result.network, vehicle_profile(scn.fleet.vehicles[0]))
    core = drivable_core(rg)
    stops = [f for f in result.geojson["features"] if f["properties"]["kind"] == "stop"]
    lon, lat = (np.array(v) for v in zip(*(f["geometry"]["coordinates"] for f in stops), strict=True))
    snapped = snap_points(result.network, lon, lat, allowed=core, max_distance_m=1.0)
    assert np.isfinite(snapped.distance_m).all()  # each stop point is on (within a metre of) the core
    names = street_names(result.network)
    named = [names[e] for e in snapped.edge]
    assert [f["properties"]["street"] for f in stops] == named  # the street the lorry stops on
