"""GeoJSON (RFC 7946) features: lon/lat, with OpenStreetMap attribution."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL"


def _round(coords: np.ndarray) -> list[list[float]]:
    return np.round(np.asarray(coords, dtype=float), 7).tolist()


def line_through(pieces: Iterable[np.ndarray]) -> np.ndarray:
    """One line through consecutive ``(k, 2)`` pieces, without repeated positions.

    A LineString needs two positions, so a drive of zero length gives its
    one position twice.
    """
    coords = np.vstack(list(pieces))
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)
    coords = coords[keep]
    return coords if len(coords) >= 2 else np.vstack([coords[:1], coords[:1]])


def line_feature(coords: np.ndarray, properties: Mapping[str, Any]) -> dict[str, Any]:
    """A LineString feature from ``(k, 2)`` lon/lat coordinates."""
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": _round(coords)},
        "properties": dict(properties),
    }


def point_feature(lon: float, lat: float, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": _round(np.array([lon, lat]))},
        "properties": dict(properties),
    }


def feature_collection(features: Iterable[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A FeatureCollection carrying the OSM attribution as a foreign member."""
    return {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, **members, "features": list(features)}


def write_geojson(collection: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return path


def _metres_along(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    """Distance (local metres, up to a constant) from a lon/lat line's start to each vertex."""
    scale = np.cos(np.radians(coords[:, 1].mean()))
    step = np.hypot(np.diff(coords[:, 0]) * scale, np.diff(coords[:, 1]))
    return np.concatenate([[0.0], np.cumsum(step)])


def cut_line(coords: NDArray[np.float64], t0: float, t1: float) -> NDArray[np.float64]:
    """The part of a lon/lat line from fraction ``t0`` to ``t1`` of its length.

    Fractions are of the length on the ground, as snapping measures them (a
    degree of longitude is shorter than one of latitude away from the
    equator), so the piece ends where the stop is, even on a bent street.
    """
    along = _metres_along(coords)
    d0, d1 = t0 * along[-1], t1 * along[-1]
    inner = coords[(along > d0) & (along < d1)]
    ends = np.column_stack([np.interp([d0, d1], along, coords[:, 0]), np.interp([d0, d1], along, coords[:, 1])])
    return np.vstack([ends[:1], inner, ends[1:]])


def point_along(coords: NDArray[np.float64], t: float) -> tuple[float, float]:
    """The point ``t`` of the way along a lon/lat line (by length on the ground, see :func:`cut_line`)."""
    x, y = cut_line(coords, t, t)[0]
    return float(x), float(y)
