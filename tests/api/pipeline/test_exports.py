"""Depot supervisor outputs: map page, route sheets, GPX, GeoPackage, PNG; and a real browser."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pytest

from binroute.api.pipeline.mapview import map_html
from binroute.geo.geojson import OSM_ATTRIBUTION, feature_collection, line_feature, point_feature

from ...helpers import plan_sample
from .browser import BROWSER, chromium
from .browser import dom as browser_dom

#: The module plans the sample town once and reads every export (two tests open a browser).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outputs(sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    plan_sample(out, "--engine", "ortools", "--solution-limit", "10", "--tiles", "none")
    plan = json.loads((out / "plan.json").read_text())
    used = [v["vehicle_id"] for v in plan["vehicles"] if v["used"]]
    return out, plan, used


def test_per_vehicle_geojson_round_trips(outputs):
    """Each crew's GeoJSON reads back with geopandas with the same trips as the plan."""
    out, plan, used = outputs
    whole = gpd.read_file(out / "routes.geojson")
    for vid in used:
        one = gpd.read_file(out / "vehicles" / f"{vid}.geojson")
        trips = one[one.geometry.geom_type == "LineString"]
        assert len(trips) == len(whole[(whole["vehicle_id"] == vid) & (whole.geometry.geom_type == "LineString")])
        stops = one[one["kind"] == "stop"]
        assert sorted(stops["bin_id"]) == sorted(
            s["id"] for v in plan["vehicles"] if v["vehicle_id"] == vid for s in v["stops"] if s["kind"] == "bin"
        )


def test_geopackage_round_trips(outputs):
    """plan.gpkg has the routes and stops layers with the same geometries as the GeoJSON."""
    out, _, _ = outputs
    geo = gpd.read_file(out / "routes.geojson")
    routes = gpd.read_file(out / "plan.gpkg", layer="routes")
    stops = gpd.read_file(out / "plan.gpkg", layer="stops")
    lines = geo[geo.geometry.geom_type == "LineString"].reset_index(drop=True)
    assert len(routes) == len(lines)
    assert all(a.equals_exact(b, 1e-7) for a, b in zip(routes.geometry, lines.geometry, strict=True))
    assert len(stops) == (geo.geometry.geom_type == "Point").sum()
    assert routes.crs.to_epsg() == 4326


def test_gpx_is_valid_with_one_track_per_vehicle(outputs):
    """Every crew's GPX parses as GPX 1.1 XML with exactly one track."""
    out, _, used = outputs
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    for vid in used:
        root = ET.parse(out / "gpx" / f"{vid}.gpx").getroot()
        assert root.tag == "{http://www.topografix.com/GPX/1/1}gpx"
        tracks = root.findall("g:trk", ns)
        assert len(tracks) == 1 and tracks[0].find("g:name", ns).text == vid
        assert root.findall("g:wpt", ns)


def test_route_sheets(outputs):
    """A CSV sheet per crew lists every stop with street, side, ETA, fill and load, tips and the break."""
    out, plan, _used = outputs
    for v in plan["vehicles"]:
        if not v["used"]:
            continue
        rows = list(csv.DictReader((out / "sheets" / f"{v['vehicle_id']}.csv").read_text().splitlines()))
        kinds = [r["kind"] for r in rows]
        assert kinds.count("bin") == v["bins"] and kinds.count("tip") == v["tips"]
        assert ("break" in kinds) == (v["break"] is not None)
        assert all(r["street"] for r in rows if r["kind"] == "bin")
        # The crew knows from which side of the street each bin is served, or that it walks it out of a dead end.
        assert all(r["side"] in ("kerb", "off-side", "walk-out") for r in rows if r["kind"] == "bin")
        assert all((r["side"] == "walk-out") == (r["walk_out_m"] != "") for r in rows if r["kind"] == "bin")


def test_png_overview(outputs):
    out, _, _ = outputs
    assert (out / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_page_is_self_contained(outputs):
    """map.html inlines Leaflet, carries the OSM attribution and loads nothing from outside."""
    text = (outputs[0] / "map.html").read_text()
    assert OSM_ATTRIBUTION in text and "L.map(" in text
    assert "<script src=" not in text and "<link" not in text
    assert "const tiles = null" in text
    # The legend's council figures: crews, hours paid and worked, CO2, cost.
    assert '"crews_used"' in text and '"paid_hours"' in text and "kg CO2" in text and '"cost"' in text


@pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")
def test_map_in_a_real_browser(outputs, tmp_path):
    """Headless Chromium opens map.html: one layer per vehicle, no console errors, a screenshot."""
    out, _, used = outputs
    dom = browser_dom(out / "map.html", tmp_path / "a")
    assert f'data-vehicle-layers="{len(used)}"' in dom.stdout
    assert "h paid" in dom.stdout and f"{len(used)} crew(s)" in dom.stdout  # the legend with its totals row
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    shot = tmp_path / "map.png"
    chromium("--window-size=1200,900", f"--screenshot={shot}", (out / "map.html").as_uri(), profile=tmp_path / "b")
    assert shot.is_file() and shot.stat().st_size > 10_000


def _big_day(n_crews: int, stops_each: int) -> tuple[dict, dict]:
    """A made-up day over a city (fixed seed): each crew a trip through its stops, and plan.json's summary."""
    rng = np.random.default_rng(19)
    feats, vehicles = [], []
    for k in range(n_crews):
        vid = f"V{k:02d}"
        at = np.column_stack([rng.uniform(9.05, 9.45, stops_each), rng.uniform(45.35, 45.65, stops_each)])
        feats.append(line_feature(at, {"kind": "trip", "vehicle_id": vid, "trip": 1, "from": "D", "to": "D"}))
        for i, (x, y) in enumerate(at, start=1):
            props = {"kind": "stop", "vehicle_id": vid, "sequence": i, "bin_id": f"B{k}-{i}", "street": "Via Roma"}
            feats.append(point_feature(x, y, {**props, "eta": "2026-11-23T07:00:00+01:00", "load_kg": i, "load_l": i}))
        vehicles.append({"vehicle_id": vid, "used": True, "km": 80.0, "hours": 8.0, "bins": stops_each, "kg": 9000})
        vehicles[-1]["tips"] = 1
    feats.append(point_feature(9.2, 45.5, {"kind": "depot", "id": "D"}))
    return feature_collection(feats), {"scenario": "big", "date": "2026-11-23", "vehicles": vehicles, "totals": {}}


@pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")
def test_map_with_thousands_of_stops_in_a_real_browser(tmp_path):
    """A 3,000-stop day opens without console errors: routes on a canvas, each crew's stops in clusters."""
    collection, plan = _big_day(12, 250)
    page = tmp_path / "map.html"
    page.write_text(map_html(collection, plan, tiles=None), encoding="utf-8")
    dom = browser_dom(page, tmp_path / "a")
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert 'data-vehicle-layers="12"' in dom.stdout
    assert "<canvas" in dom.stdout  # lines drawn on one canvas, not an SVG path each
    clusters = dom.stdout.count('class="cluster-icon"')
    assert clusters >= 12  # every crew's stops clustered at the whole-city view...
    assert dom.stdout.count('class="stop-icon"') + clusters < 600  # ...so far fewer markers than stops
