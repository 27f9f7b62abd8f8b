"""Checks on uploaded files that the loaders do not make: a decompression bomb, places far from the roads.

The loaders (:mod:`binroute.api.pipeline`, :mod:`binroute.geo`) already refuse
the rest of what a hostile upload tries, each with a message naming the file:
XML entities (libosmium refuses any), a PBF block claiming gigabytes, a CSV
field of megabytes (its value is shown cut), NaN and infinite numbers, duplicate
ids, text that is not UTF-8, JSON nested too deeply. Each check here raises
:class:`~.errors.APIError` 422 naming the file and what is wrong.
"""

from __future__ import annotations

import bz2
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .errors import APIError

if TYPE_CHECKING:
    from ...geo import RoadNetwork

#: Bytes a compressed network file may grow to per byte of itself (OSM XML in bzip2: about 10 to 20).
MAX_RATIO = 100
#: Bytes any compressed network file may grow to, whatever its size.
MAX_DECOMPRESSED = 4 << 30
#: Bytes decompressed before the ratio is held against it (a tiny file may grow more).
RATIO_AFTER = 64 << 20
#: Kilometres from the network's nearest road point beyond which a bin, depot or facility is refused.
FAR_KM = 5.0
_EARTH_KM = 6371.0088


def check_compressed_network(path: Path, shown: str = "network file") -> None:
    """422 if a ``.bz2`` network decompresses past :data:`MAX_RATIO` times its size or :data:`MAX_DECOMPRESSED`.

    Streams through the file with bounded memory (1 MB of output at a time); other files pass.
    """
    if path.suffix != ".bz2":
        return
    size = max(path.stat().st_size, 1)
    cap = min(MAX_DECOMPRESSED, max(RATIO_AFTER, MAX_RATIO * size))
    out = 0
    try:
        with path.open("rb") as fh:
            stream = bz2.BZ2Decompressor()
            while chunk := fh.read(1 << 16):
                data = stream.decompress(chunk, max_length=1 << 20)
                out += len(data)
                while not stream.needs_input and not stream.eof:
                    out += len(stream.decompress(b"", max_length=1 << 20))
                    if out > cap:
                        break
                if out > cap:
                    raise APIError(
                        422,
                        "invalid_network",
                        f"{shown}: decompresses to more than {cap >> 20:,} MB from {size:,} bytes "
                        f"(over {MAX_RATIO}x; a decompression bomb?)",
                    )
                if stream.eof:
                    break
    except (OSError, EOFError) as exc:
        raise APIError(422, "invalid_network", f"{shown}: not a readable bzip2 file ({exc})") from exc


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, so that straight-line distances order as great-circle ones."""
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def check_places_near_network(network: RoadNetwork, places: pd.DataFrame, *, where: str) -> None:
    """422 naming the first places (``id``, ``lon``, ``lat``, ``line``) more than :data:`FAR_KM` from any road.

    ``where`` names their file (``bins.csv``, ``fleet.json``) in the message.
    """
    if places.empty or len(network.lon) == 0:
        return
    tree = cKDTree(_unit_vectors(np.asarray(network.lon, float), np.asarray(network.lat, float)))
    chord, _ = tree.query(_unit_vectors(places["lon"].to_numpy(float), places["lat"].to_numpy(float)))
    km = 2 * _EARTH_KM * np.arcsin(np.clip(chord / 2, 0, 1))
    far = np.flatnonzero(km > FAR_KM)
    if not len(far):
        return
    shown = [
        f"{places['line'].iloc[i]}{places['id'].iloc[i]} ({places['lon'].iloc[i]:g}, {places['lat'].iloc[i]:g}) "
        f"is {km[i]:,.0f} km from it"
        for i in far[:3]
    ]
    more = f"; and {len(far) - 3} more" if len(far) > 3 else ""
    raise APIError(
        422,
        "invalid_scenario",
        f"{where}: {len(far)} place(s) lie more than {FAR_KM:g} km from every road of the network file "
        f"(lon and lat swapped, or the wrong city?): {'; '.join(shown)}{more}",
        {"where": where, "count": len(far)},
    )
