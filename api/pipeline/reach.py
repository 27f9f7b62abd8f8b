"""Places far from every road of the network: a bin, depot or facility swapped in lon and lat, or in another city.

:func:`check_near_roads` refuses them with :class:`~.errors.ScenarioError` naming
the file, the line and the place; ``binroute plan`` runs it once the network is
loaded, and the HTTP API when a scenario is uploaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .errors import ScenarioError

if TYPE_CHECKING:
    from binroute.geo import RoadNetwork

    from .scenario import FleetIn

#: Kilometres from the network's nearest road point beyond which a bin, depot or facility is refused.
FAR_KM = 5.0
_EARTH_KM = 6371.0088


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, so that straight-line distances order as great-circle ones."""
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def check_places_near_network(network: RoadNetwork, places: pd.DataFrame, *, where: str) -> None:
    """``ScenarioError`` naming the first places (``id``, ``lon``, ``lat``, ``line``) more than :data:`FAR_KM` away.

    ``where`` names their file (``bins.csv``, ``fleet.json``) at the head of the message.
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
    raise ScenarioError(
        f"{where}: {len(far)} place(s) lie more than {FAR_KM:g} km from every road of the network file "
        f"(lon and lat swapped, or the wrong city?): {'; '.join(shown)}{more}"
    )


def check_near_roads(
    network: RoadNetwork, fleet: FleetIn, bins: pd.DataFrame, *, bins_file: str, fleet_file: str
) -> None:
    """``ScenarioError`` if a bin, depot or facility lies more than :data:`FAR_KM` from every road of ``network``.

    ``bins_file`` and ``fleet_file`` name the files in the message; a bin's line is its row in ``bins_file``.
    """
    table = pd.DataFrame(
        {
            "id": bins["bin_id"].astype(str),
            "lon": pd.to_numeric(bins["lon"]),
            "lat": pd.to_numeric(bins["lat"]),
            "line": [f"line {i + 2}: bin " for i in range(len(bins))],
        }
    )
    check_places_near_network(network, table, where=bins_file)
    sites = [("depot ", d) for d in fleet.depots] + [("facility ", f) for f in fleet.facilities]
    places = pd.DataFrame(
        {
            "id": [str(site.id) for _, site in sites],
            "lon": [float(site.lon) for _, site in sites],
            "lat": [float(site.lat) for _, site in sites],
            "line": [what for what, _ in sites],
        }
    )
    check_places_near_network(network, places, where=fleet_file)
