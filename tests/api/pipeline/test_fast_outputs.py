"""Writing big plans fast: bounded drive searches, time stamps and GPX text give what the slow ways gave."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date

import gpxpy
import gpxpy.gpx
import numpy as np
import pandas as pd
import pytest

from binroute.api.pipeline import plan as plan_module
from binroute.api.pipeline.legs import route_legs
from binroute.api.pipeline.report import _iso
from binroute.geo.exports import to_gpx, vehicle_collection, vehicle_collections
from binroute.geo.geojson import OSM_ATTRIBUTION, feature_collection, line_feature, point_feature

DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def small_day(sample_dir):
    """Forty bins of the sample planned in this process, with the solution and travel the report was built from."""
    from binroute.api.pipeline import PlanOptions
    from binroute.api.pipeline.scenario import load_scenario

    scn = load_scenario(sample_dir)
    keep = scn.bins["bin_id"].iloc[:40]
    scn = dataclasses.replace(
        scn,
        bins=scn.bins[scn.bins["bin_id"].isin(keep)].reset_index(drop=True),
        readings=scn.readings[scn.readings["bin_id"].isin(keep)].reset_index(drop=True),
    )
    seen = {}

    def spy(solution, travel):
        seen["solution"], seen["travel"] = solution, travel
        return route_legs(solution, travel)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plan_module, "route_legs", spy)
        plan_module.plan_scenario(
            scn, PlanOptions(date=DAY, time_limit_s=None, solution_limit=5, engine="ortools", include_may=True)
        )
    return seen["solution"], seen["travel"]


@pytest.mark.slow
def test_bounded_searches_give_the_unbounded_drives(small_day):
    """Legs from trees grown only as far as each origin's longest leg equal legs from whole-city trees."""
    solution, travel = small_day
    assert travel.model == "turns"
    legs = route_legs(solution, travel)
    assert sum(len(d) for trips in legs.values() for d in trips) >= 30
    finders = [m.finder for m in travel.kerbside.values()]
    assert all(not f._trees for f in finders)  # every bounded tree dropped after its last leg
    for route in solution.routes:
        if not route.used:
            continue
        for trip, drives in zip(route.trips(), legs[route.vehicle_id], strict=True):
            locations = [v.location for v in trip]
            for (a, b), leg in zip(itertools.pairwise(locations), drives, strict=True):
                for f in finders:
                    f._trees.clear()  # the drive as before: a tree over the whole network
                whole = travel.leg(route.vehicle_id, a, b)
                np.testing.assert_array_equal(leg.coords, whole.coords)
                assert leg.u_turns == whole.u_turns and leg.illegal_turns == whole.illegal_turns


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25), DAY], ids=["dst-start", "dst-end", "plain"])
def test_times_are_pandas_times(day):
    """Stop times are elapsed seconds after local midnight, as pandas computes them, across DST changes too."""
    for seconds in range(0, 30 * 3600, 997):
        expected = (pd.Timestamp(day).tz_localize("Europe/Helsinki") + pd.Timedelta(seconds=seconds)).isoformat()
        assert _iso(day, seconds, "Europe/Helsinki") == expected


def _collection():
    """Two crews with a trip and stops each, names that need escaping, a depot and a skipped bin."""
    feats = [
        line_feature(np.array([[24.9, 60.1], [24.91, 60.11], [1e-7, 60.12]]), {"kind": "trip", "vehicle_id": "A&B"}),
        point_feature(24.91, 60.11, {"kind": "stop", "vehicle_id": "A&B", "sequence": 1, "bin_id": "<B1>", "eta": "t"}),
        point_feature(24.9, 60.1, {"kind": "tip", "vehicle_id": "A&B", "sequence": 2, "facility_id": "S", "eta": None}),
        line_feature(np.array([[25.0, 60.0], [25.1, 60.1]]), {"kind": "trip", "vehicle_id": "C"}),
        point_feature(25.1, 60.1, {"kind": "stop", "vehicle_id": "C", "sequence": 1, "bin_id": "B2", "eta": "u"}),
        point_feature(25.0, 60.0, {"kind": "depot", "id": "D"}),
        point_feature(25.2, 60.2, {"kind": "skipped", "bin_id": "B3"}),
    ]
    return feature_collection(feats, plan_date="2026-11-23")


def _gpxpy_document(collection, vehicle_id):
    """The GPX document as gpxpy wrote it before binroute wrote the text itself."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "binroute"
    gpx.description = f"Collection round of {vehicle_id}. Road data {OSM_ATTRIBUTION}"
    track = gpxpy.gpx.GPXTrack(name=vehicle_id)
    gpx.tracks.append(track)
    for f in collection["features"]:
        p = f["properties"]
        if p.get("vehicle_id") != vehicle_id:
            continue
        if f["geometry"]["type"] == "LineString":
            seg = gpxpy.gpx.GPXTrackSegment()
            seg.points = [gpxpy.gpx.GPXTrackPoint(latitude=y, longitude=x) for x, y in f["geometry"]["coordinates"]]
            track.segments.append(seg)
        elif p.get("kind") in ("stop", "tip"):
            x, y = f["geometry"]["coordinates"]
            name = f"{p['sequence']}: {p.get('bin_id') or p.get('facility_id')}"
            gpx.waypoints.append(gpxpy.gpx.GPXWaypoint(latitude=y, longitude=x, name=name, comment=p.get("eta")))
    return gpx.to_xml(version="1.1")


@pytest.mark.parametrize("vehicle_id", ["A&B", "C", "nobody"])
def test_gpx_text_is_what_gpxpy_wrote(vehicle_id):
    """The GPX written as text is byte for byte gpxpy's document, and parses back to the same points."""
    collection = _collection()
    text = to_gpx(collection, vehicle_id)
    assert text == _gpxpy_document(collection, vehicle_id)
    parsed = gpxpy.parse(text)
    assert [t.name for t in parsed.tracks] == [vehicle_id]


def test_vehicle_collections_read_once_equal_one_by_one():
    """Splitting the plan per crew in one pass gives each crew's collection as picking it alone does."""
    collection = _collection()
    together = vehicle_collections(collection, ["A&B", "C"])
    for vid in ("A&B", "C"):
        alone = vehicle_collection(collection, vid)
        assert together[vid] == alone
        assert [f["properties"]["kind"] for f in alone["features"]][-1] == "depot"
        assert all(f["properties"].get("vehicle_id") in (vid, None) for f in alone["features"])
