"""Route exports for sat-navs and GIS: per-vehicle GeoJSON, GPX, GeoPackage and a PNG overview.

All functions take the plan's GeoJSON FeatureCollection (as written by
``binroute plan``), so they work the same from the CLI and the API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import gpxpy
import gpxpy.gpx
import numpy as np
import shapely

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


def vehicle_ids(collection: Mapping[str, Any]) -> list[str]:
    """Vehicles with a route in the plan, in order of first appearance."""
    return list(
        dict.fromkeys(
            f["properties"]["vehicle_id"] for f in collection["features"] if f["properties"].get("vehicle_id")
        )
    )


def vehicle_collection(collection: Mapping[str, Any], vehicle_id: str) -> dict[str, Any]:
    """One crew's trips and stops, with the depots and disposal sites."""
    feats = [
        f
        for f in collection["features"]
        if f["properties"].get("vehicle_id") == vehicle_id or f["properties"].get("kind") in ("depot", "facility")
    ]
    extra = {k: v for k, v in collection.items() if k not in ("type", "features", "attribution")}
    return feature_collection(feats, vehicle_id=vehicle_id, **extra)


def to_gpx(collection: Mapping[str, Any], vehicle_id: str) -> str:
    """A GPX 1.1 document: one track (a segment per trip) and a waypoint per stop."""
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
            seg.points = [
                gpxpy.gpx.GPXTrackPoint(latitude=lat, longitude=lon) for lon, lat in f["geometry"]["coordinates"]
            ]
            track.segments.append(seg)
        elif p.get("kind") in ("stop", "tip"):
            lon, lat = f["geometry"]["coordinates"]
            name = f"{p['sequence']}: {p.get('bin_id') or p.get('facility_id')}"
            gpx.waypoints.append(gpxpy.gpx.GPXWaypoint(latitude=lat, longitude=lon, name=name, comment=p.get("eta")))
    return gpx.to_xml(version="1.1")


def frames(collection: Mapping[str, Any]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The plan as two GeoDataFrames: trips (lines) and points (stops, tips, depots, skipped bins)."""
    feats = list(collection["features"])
    lines = [f for f in feats if f["geometry"]["type"] == "LineString"]
    points = [f for f in feats if f["geometry"]["type"] == "Point"]

    def frame(items: list[dict[str, Any]]) -> gpd.GeoDataFrame:
        if not items:
            return gpd.GeoDataFrame({"kind": []}, geometry=[], crs="EPSG:4326")
        rows = [
            {k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in f["properties"].items()} for f in items
        ]
        geoms = [shapely.geometry.shape(f["geometry"]) for f in items]
        return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")

    return frame(lines), frame(points)


def write_geopackage(collection: Mapping[str, Any], path: str | Path) -> Path:
    """A GeoPackage with layers ``routes`` and ``stops`` for QGIS."""
    path = Path(path)
    path.unlink(missing_ok=True)
    routes, stops = frames(collection)
    routes.to_file(path, layer="routes", driver="GPKG")
    stops.to_file(path, layer="stops", driver="GPKG")
    return path


def write_png(collection: Mapping[str, Any], net: RoadNetwork | None, path: str | Path, *, title: str = "") -> Path:
    """A static overview: the road network in grey, each vehicle's routes in its colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(10, 10), dpi=100)
    if net is not None and net.n_edges:
        ax.add_collection(LineCollection(list(net.geometry), colors="#cccccc", linewidths=0.6, zorder=1))
    for i, vid in enumerate(vehicle_ids(collection)):
        colour = PALETTE[i % len(PALETTE)]
        trips = [
            np.asarray(f["geometry"]["coordinates"])
            for f in collection["features"]
            if f["properties"].get("vehicle_id") == vid and f["geometry"]["type"] == "LineString"
        ]
        ax.add_collection(LineCollection(trips, colors=colour, linewidths=2.0, alpha=0.85, zorder=2, label=vid))
        stops = np.array(
            [
                f["geometry"]["coordinates"]
                for f in collection["features"]
                if f["properties"].get("vehicle_id") == vid and f["properties"].get("kind") == "stop"
            ]
        )
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
