"""Route exports for sat-navs and GIS: per-vehicle GeoJSON, GPX, GeoPackage and a PNG overview.

All functions take the plan's GeoJSON FeatureCollection (as written by
``binroute plan``), so they work the same from the CLI and the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from .geojson import OSM_ATTRIBUTION, feature_collection
from .network import RoadNetwork

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
)


def vehicle_collection(collection: Mapping[str, Any], vehicle_id: str) -> dict[str, Any]:
    """One crew's trips and stops, with the depots and disposal sites."""
    return vehicle_collections(collection, [vehicle_id])[vehicle_id]


def vehicle_collections(collection: Mapping[str, Any], vehicle_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per vehicle, its :func:`vehicle_collection` (the plan's features read once for all of them)."""
    feats: dict[str, list[dict[str, Any]]] = {vid: [] for vid in vehicle_ids}
    for f in collection["features"]:
        p = f["properties"]
        if p.get("kind") in ("depot", "facility"):
            for own in feats.values():
                own.append(f)
        elif p.get("vehicle_id") in feats:
            feats[p["vehicle_id"]].append(f)
    extra = {k: v for k, v in collection.items() if k not in ("type", "features", "attribution")}
    return {vid: feature_collection(own, vehicle_id=vid, **extra) for vid, own in feats.items()}


_GPX_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gpx xmlns="http://www.topografix.com/GPX/1/1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd" '
    'version="1.1" creator="binroute">'
)


def _gpx_number(x: float) -> str:
    """A coordinate as GPX wants it: the shortest exact decimal, never scientific notation."""
    text = str(x)
    return format(x, ".10f").rstrip("0").rstrip(".") if "e" in text else text


def to_gpx(collection: Mapping[str, Any], vehicle_id: str) -> str:
    """A GPX 1.1 document: one track (a segment per trip) and a waypoint per stop and per U-turn.

    A walk-out stop's name says how far the crew walks; a reversing
    manoeuvre (a U-turn at a dead end without a turning place) is named so.

    Written directly as text, in the layout gpxpy gives the same document
    (a round of a few hundred stops is thousands of track points, and
    building gpxpy objects for them took most of the time of writing a plan).
    """
    waypoints: list[str] = []
    segments: list[str] = []
    for f in collection["features"]:
        p = f["properties"]
        if p.get("vehicle_id") != vehicle_id:
            continue
        if f["geometry"]["type"] == "LineString":
            points = "".join(
                f'\n      <trkpt lat="{_gpx_number(lat)}" lon="{_gpx_number(lon)}">\n      </trkpt>'
                for lon, lat in f["geometry"]["coordinates"]
            )
            segments.append(f"\n    <trkseg>{points}\n    </trkseg>")
        elif p.get("kind") in ("stop", "tip", "reversing", "u_turn"):
            lon, lat = f["geometry"]["coordinates"]
            if p["kind"] in ("reversing", "u_turn"):
                name = escape("Reversing (dead end)" if p["kind"] == "reversing" else f"U-turn ({p.get('reason')})")
            else:
                walk = f" (walk out {p['walk_out_m']:g} m)" if p.get("walk_out_m") is not None else ""
                name = escape(f"{p['sequence']}: {p.get('bin_id') or p.get('facility_id')}{walk}")
            comment = "" if p.get("eta") is None else f"\n    <cmt>{escape(str(p['eta']))}</cmt>"
            waypoints.append(
                f'\n  <wpt lat="{_gpx_number(lat)}" lon="{_gpx_number(lon)}">'
                f"\n    <name>{name}</name>{comment}\n  </wpt>"
            )
    description = escape(f"Collection round of {vehicle_id}. Road data {OSM_ATTRIBUTION}")
    return "".join(
        [
            _GPX_HEAD,
            f"\n  <metadata>\n    <desc>{description}</desc>\n  </metadata>",
            *waypoints,
            f"\n  <trk>\n    <name>{escape(vehicle_id)}</name>",
            *segments,
            "\n  </trk>\n</gpx>",
        ]
    )


def frames(collection: Mapping[str, Any]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The plan as two GeoDataFrames: trips (lines) and points (stops, tips, depots, skipped bins)."""
    feats = list(collection["features"])
    lines = [f for f in feats if f["geometry"]["type"] == "LineString"]
    points = [f for f in feats if f["geometry"]["type"] == "Point"]

    def frame(items: list[dict[str, Any]], geoms: NDArray[np.object_]) -> gpd.GeoDataFrame:
        if not items:
            return gpd.GeoDataFrame({"kind": []}, geometry=[], crs="EPSG:4326")
        rows = [
            {k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in f["properties"].items()} for f in items
        ]
        return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")

    # Geometries built in two vectorised calls rather than one shapely object per feature.
    line_geoms = np.empty(0, dtype=object)
    if lines:
        sizes = [len(f["geometry"]["coordinates"]) for f in lines]
        coords = np.asarray([xy for f in lines for xy in f["geometry"]["coordinates"]], dtype=float)
        line_geoms = shapely.linestrings(coords, indices=np.repeat(np.arange(len(lines)), sizes))
    point_geoms = np.empty(0, dtype=object)
    if points:
        point_geoms = shapely.points(np.asarray([f["geometry"]["coordinates"] for f in points], dtype=float))
    return frame(lines, line_geoms), frame(points, point_geoms)


def write_geopackage(collection: Mapping[str, Any], path: str | Path) -> Path:
    """A GeoPackage with layers ``routes`` and ``stops`` for QGIS."""
    path = Path(path)
    path.unlink(missing_ok=True)
    routes, stops = frames(collection)
    routes.to_file(path, layer="routes", driver="GPKG")
    stops.to_file(path, layer="stops", driver="GPKG")
    return path


def _joined(pieces: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Lines as one ``(k, 2)`` array with a row of NaN between them: one path to draw, not thousands."""
    if not pieces:
        return np.zeros((0, 2))
    gaps = np.cumsum([len(p) for p in pieces[:-1]], dtype=np.int64)  # int even when empty (one line)
    return np.insert(np.vstack(pieces), gaps, np.nan, axis=0)


def write_png(collection: Mapping[str, Any], net: RoadNetwork | None, path: str | Path, *, title: str = "") -> Path:
    """A static overview: the road network in grey, each vehicle's routes in its colour.

    Each colour is drawn as one path broken by NaN rows, which matplotlib
    renders as separate lines (a city's tens of thousands of streets as one
    artist, not one each).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_vehicle: dict[str, list[Mapping[str, Any]]] = {}
    for f in collection["features"]:
        vid = f["properties"].get("vehicle_id")
        if vid:
            by_vehicle.setdefault(vid, []).append(f)
    with matplotlib.rc_context({"agg.path.chunksize": 20_000}):
        fig, ax = plt.subplots(figsize=(10, 10), dpi=100)
        if net is not None and net.n_edges:
            streets = np.insert(net.geom_coords, net.geom_offsets[1:-1], np.nan, axis=0)
            ax.plot(streets[:, 0], streets[:, 1], color="#cccccc", linewidth=0.6, zorder=1)
        for i, (vid, feats) in enumerate(by_vehicle.items()):
            colour = PALETTE[i % len(PALETTE)]
            trips = _joined(
                [np.asarray(f["geometry"]["coordinates"]) for f in feats if f["geometry"]["type"] == "LineString"]
            )
            ax.plot(trips[:, 0], trips[:, 1], color=colour, linewidth=2.0, alpha=0.85, zorder=2, label=vid)
            stops = np.array([f["geometry"]["coordinates"] for f in feats if f["properties"].get("kind") == "stop"])
            if len(stops):
                ax.scatter(stops[:, 0], stops[:, 1], s=8, color=colour, zorder=3)
        for f in collection["features"]:
            kind = f["properties"].get("kind")
            if kind in ("depot", "facility"):
                x, y = f["geometry"]["coordinates"]
                ax.scatter([x], [y], marker="s" if kind == "depot" else "^", s=90, color="black", zorder=4)
                ax.annotate(f["properties"]["id"], (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
        ax.autoscale()
        ax.set_aspect(1.0 / np.cos(np.radians(np.mean(ax.get_ylim()))))
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.text(0.01, 0.01, OSM_ATTRIBUTION, fontsize=7, color="#555555")
        path = Path(path)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)
    return path
