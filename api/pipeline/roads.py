"""The road side of a plan: places snapped to the network, and travel matrices per vehicle profile."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geo import PathFinder, RoadNetwork, VehicleProfile, routing_graph, snap_points, travel_matrices
from geo.snap import Snapped
from routing import Matrix

from .scenario import DepotIn, FacilityIn, FleetIn, Scenario, VehicleIn


@dataclass(frozen=True)
class Places:
    """Every place of a scenario in location order: depots, then facilities, then bins."""

    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray
    n_fixed: int  # depots and facilities come first


@dataclass(frozen=True)
class Travel:
    """The chosen locations snapped, and each vehicle profile's matrices and path finder."""

    stops: Snapped
    profiles: dict[str, VehicleProfile]  # by vehicle id
    matrices: dict[str, Matrix]  # by profile name
    finders: dict[str, PathFinder]  # by profile name


def places_of(scn: Scenario) -> Places:
    """The scenario's depots, facilities and bins as one list of places."""
    fleet = scn.fleet
    fixed: list[DepotIn | FacilityIn] = [*fleet.depots, *fleet.facilities]
    return Places(
        ids=[p.id for p in fixed] + scn.bins["bin_id"].tolist(),
        lon=np.asarray([p.lon for p in fixed] + scn.bins["lon"].tolist(), dtype=float),
        lat=np.asarray([p.lat for p in fixed] + scn.bins["lat"].tolist(), dtype=float),
        n_fixed=len(fixed),
    )


def vehicle_profile(v: VehicleIn) -> VehicleProfile:
    """The road-access profile of a vehicle from ``fleet.json`` (named by its dimensions)."""
    return VehicleProfile(
        name=f"{v.weight_t:g}t-{v.height_m:g}h-{v.width_m:g}w-{v.length_m:g}l-{v.max_speed_kph:g}kph",
        weight_t=v.weight_t,
        height_m=v.height_m,
        width_m=v.width_m,
        length_m=v.length_m,
        max_speed_kph=v.max_speed_kph,
    )


def snap_places(net: RoadNetwork, places: Places, *, max_snap_m: float, notes: list[str]) -> Snapped:
    """Snap every place to its nearest road; snapping warnings are added to ``notes``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snapped = snap_points(net, places.lon, places.lat, ids=places.ids, max_distance_m=max_snap_m)
    notes.extend(str(w.message) for w in caught)
    return snapped


def travel(
    net: RoadNetwork,
    places: Places,
    snapped: Snapped,
    locations: Sequence[int],
    fleet: FleetIn,
    *,
    notes: list[str],
) -> Travel:
    """Matrices and path finders between ``locations`` for each distinct vehicle profile.

    Each kind of vehicle stops on the nearest street it may drive on; its snapping warnings
    are added to ``notes`` only where they name ids not named already.
    """
    stops = snapped.take(list(locations))
    profiles = {v.id: vehicle_profile(v) for v in fleet.vehicles}
    matrices: dict[str, Matrix] = {}
    finders: dict[str, PathFinder] = {}
    for prof in {p.name: p for p in profiles.values()}.values():
        rg = routing_graph(net, prof)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            own = snap_points(
                net,
                places.lon[list(locations)],
                places.lat[list(locations)],
                ids=stops.ids,
                allowed=np.isfinite(rg.edge_time),
                max_distance_m=fleet.planning.max_snap_m,
            )
        said = {i for n in notes for i in n.rsplit(": ", 1)[-1].split(", ")}
        notes.extend(
            f"vehicle profile {prof.name}: {w.message}"
            for w in caught
            if not set(str(w.message).rsplit(": ", 1)[-1].split(", ")) <= said
        )
        finders[prof.name] = PathFinder(rg, own)
        matrices[prof.name] = Matrix.from_float(*travel_matrices(rg, own))
    return Travel(stops, profiles, matrices, finders)
