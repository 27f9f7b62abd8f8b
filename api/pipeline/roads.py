"""The road side of a plan: places snapped to the network, travel matrices and drives per vehicle profile.

With the turn-aware model (``planning.turns.model = "turns"``, the default)
every bin is one matrix location per direction a lorry may pass it in
(:mod:`binroute.geo.kerbside`), the routing problem gets the second as the bin's
alternative, and drives obey turn restrictions and never reverse in the
middle of a street (:mod:`binroute.geo.turns`). With ``"nodes"`` each place is one
location and drives are node-based shortest paths (the model before turns).

Without a road network (:func:`estimate_travel`, model ``"estimate"``) the
distance between two places is the great-circle distance times the fleet's
``planning.detour_factor`` (the *circuity* of roads: Ballou, Rahardja and
Sakai 2002 and Boscoe, Henry and Zdeb 2012 measure about 1.2 to 1.4 for
road trips; the default is :data:`~.scenario.DEFAULT_DETOUR_FACTOR`), and a
drive takes that distance at ``planning.estimate_speed_kph``. Every figure
of km or time built on it is an estimate, and is labelled so.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from binroute.geo import (
    KerbsideModel,
    PathFinder,
    RoadNetwork,
    SlotLayout,
    Snapped,
    TurnGraph,
    TurnRules,
    VehicleProfile,
    WalkOuts,
    add_walking,
    core_edges,
    drivable_core,
    driving_side_for_timezone,
    illegal_turns,
    kerb_required,
    kerbside_model,
    routing_graph,
    snap_points,
    travel_matrices,
    turn_graph,
    utm_crs,
    walk_outs,
)
from binroute.routing import Matrix

from .scenario import DepotIn, FacilityIn, FleetIn, Scenario, VehicleIn

#: The travel model of a scenario without a road network: great-circle distances times a detour factor.
ESTIMATE = "estimate"
#: The Earth's mean radius (m), for great-circle distances.
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Places:
    """Every place of a scenario in location order: depots, then facilities, then bins."""

    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray
    n_fixed: int  # depots and facilities come first


@dataclass(frozen=True)
class Leg:
    """One drive between two stops of a route: its geometry, U-turns (lon, lat, reason) and forbidden turns."""

    coords: np.ndarray
    u_turns: list[tuple[float, float, str]] = field(default_factory=list)
    illegal_turns: int = 0


@dataclass(frozen=True)
class Travel:
    """The chosen points snapped, and each vehicle profile's matrices and drives.

    Matrix location ``k`` is a place of point ``slot_point[k]`` (an index into
    ``stops``); ``slots[i]`` are point ``i``'s locations that some profile can
    use, the first being its primary location.
    """

    stops: Snapped
    profiles: dict[str, VehicleProfile]  # by vehicle id
    matrices: dict[str, Matrix]  # by profile name
    slot_point: NDArray[np.int64]
    slots: list[list[int]]
    model: str
    finders: dict[str, PathFinder] = field(default_factory=dict)  # node model, by profile name
    kerbside: dict[str, KerbsideModel] = field(default_factory=dict)  # turn model, by profile name
    network: RoadNetwork | None = None

    @property
    def estimated(self) -> bool:
        """Whether distances and times are estimates (no road network: :data:`ESTIMATE`)."""
        return self.model == ESTIMATE

    def leg(self, vehicle_id: str, a: int, b: int) -> Leg:
        """The drive from ``a`` to ``b`` (locations) for ``vehicle_id``'s lorry (a straight line when estimated)."""
        name = self.profiles[vehicle_id].name
        if self.model == ESTIMATE:
            pa, pb = int(self.slot_point[a]), int(self.slot_point[b])
            return Leg(np.array([[self.stops.lon[pa], self.stops.lat[pa]], [self.stops.lon[pb], self.stops.lat[pb]]]))
        if self.model == "nodes":
            return Leg(self.finders[name].path(int(self.slot_point[a]), int(self.slot_point[b])))
        model = self.kerbside[name]
        drive = model.drive(a, b)
        net = model.turns.rg.net
        turns = [(float(net.lon[n]), float(net.lat[n]), reason) for n, reason in drive.u_turns]
        return Leg(drive.coords, turns, illegal_turns(model.banned, drive.edges))

    def route(self, vehicle_id: str, locations: Sequence[int]) -> list[Leg]:
        """The legs of a drive through ``locations`` in order."""
        return [self.leg(vehicle_id, a, b) for a, b in itertools.pairwise(locations)]

    def point(self, vehicle_id: str, location: int) -> tuple[float, float]:
        """Where ``vehicle_id``'s lorry stops for ``location``: lon, lat on the road it serves it from."""
        if self.model == "turns":
            return self.kerbside[self.profiles[vehicle_id].name].position(location)
        point = int(self.slot_point[location])
        if self.model == ESTIMATE:
            return float(self.stops.lon[point]), float(self.stops.lat[point])
        own = self.snapped_for(vehicle_id)
        return float(own.lon[point]), float(own.lat[point])

    def snapped_for(self, vehicle_id: str) -> Snapped:
        """The stops as ``vehicle_id``'s lorry reaches them: snapped to roads it can drive (its drives end there)."""
        name = self.profiles[vehicle_id].name
        if self.model == ESTIMATE:
            return self.stops
        return self.kerbside[name].snapped if self.model == "turns" else self.finders[name].snapped

    def street_edge(self, vehicle_id: str, location: int) -> int:
        """The network edge (street) ``vehicle_id``'s lorry serves ``location`` from (-1 when estimated)."""
        return int(self.snapped_for(vehicle_id).edge[self.slot_point[location]])

    def walk_m(self, vehicle_id: str, location: int) -> float:
        """How far (m, one way) the crew walks to the bin at ``location``: 0 but for a walk-out."""
        if self.model != "turns":
            return 0.0
        return self.kerbside[self.profiles[vehicle_id].name].walk_m(location)

    def side(self, vehicle_id: str, location: int) -> str:
        """Where the bin at ``location`` stands as ``vehicle_id``'s lorry passes (``""`` when unknown)."""
        if self.model != "turns":
            return ""
        return self.kerbside[self.profiles[vehicle_id].name].side(location)


def metric_crs(travel: Travel, net: RoadNetwork | None) -> str:
    """The metric CRS territories are measured in: the network's, else the UTM zone of the stops."""
    return net.crs if net is not None else utm_crs(float(np.mean(travel.stops.lon)), float(np.mean(travel.stops.lat)))


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


def great_circle_m(lon: np.ndarray, lat: np.ndarray) -> NDArray[np.float64]:
    """Great-circle (haversine) distances in metres between every pair of points (degrees)."""
    lam, phi = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    dphi = phi[:, None] - phi[None, :]
    dlam = lam[:, None] - lam[None, :]
    h = np.sin(dphi / 2) ** 2 + np.cos(phi)[:, None] * np.cos(phi)[None, :] * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _unsnapped(ids: Sequence[str], lon: np.ndarray, lat: np.ndarray) -> Snapped:
    """Points left where they are, on no street (``edge`` -1): the stops of an estimate."""
    n = len(ids)
    return Snapped(
        ids=tuple(ids),
        edge=np.full(n, -1, dtype=np.int64),
        twin=np.full(n, -1, dtype=np.int64),
        t=np.zeros(n),
        distance_m=np.zeros(n),
        side=("",) * n,
        lon=np.asarray(lon, dtype=float),
        lat=np.asarray(lat, dtype=float),
    )


def estimate_travel(places: Places, locations: Sequence[int], fleet: FleetIn) -> Travel:
    """Estimated matrices between ``locations`` without a road network (see the module notes).

    Each vehicle profile drives at ``planning.estimate_speed_kph``, or its
    ``max_speed_kph`` where lower. The stops are the places themselves
    (``edge`` -1: on no street).
    """
    locs = np.asarray(list(locations), dtype=np.int64)
    lon, lat = places.lon[locs], places.lat[locs]
    metres = great_circle_m(lon, lat) * fleet.planning.detour_factor
    n = len(locs)
    stops = _unsnapped([places.ids[i] for i in locs], lon, lat)
    profiles = {v.id: vehicle_profile(v) for v in fleet.vehicles}
    matrices = {}
    for prof in {p.name: p for p in profiles.values()}.values():
        speed_ms = min(fleet.planning.estimate_speed_kph, prof.max_speed_kph) / 3.6
        matrices[prof.name] = Matrix.from_float(metres / speed_ms, metres)
    return Travel(stops, profiles, matrices, np.arange(n, dtype=np.int64), [[i] for i in range(n)], ESTIMATE)


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


def turn_rules(fleet: FleetIn) -> TurnRules:
    """The fleet's turn rules (``planning.turns``), the driving side from its time zone unless given."""
    t = fleet.planning.turns
    side = driving_side_for_timezone(fleet.timezone) if t.driving_side == "auto" else t.driving_side
    return TurnRules(
        driving_side=side,
        u_turns=t.u_turns,
        u_turn_s=t.u_turn_s,
        u_turn_penalty_s=t.u_turn_penalty_s,
        turn_s=t.turn_s,
        cross_traffic_s=t.cross_traffic_s,
    )


#: A walk-out's walking, in lengths of the walk: to the bin, back with it, and the same again to return it.
WALK_OUT_LEGS = 4


def walk_out_seconds(walk_m: NDArray[np.float64], fleet: FleetIn) -> NDArray[np.float64]:
    """The crew's time for walk-outs of ``walk_m`` metres (one way) at ``planning.turns.walk_speed_kph``."""
    return WALK_OUT_LEGS * np.asarray(walk_m, dtype=float) / (fleet.planning.turns.walk_speed_kph / 3.6)


def snap_places(net: RoadNetwork | None, places: Places, *, max_snap_m: float, notes: list[str]) -> Snapped:
    """Snap every place to its nearest road; snapping warnings are added to ``notes``.

    Without a network (``None``: distances estimated) the places stay where they are, on no street.
    """
    if net is None:
        return _unsnapped(places.ids, places.lon, places.lat)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snapped = snap_points(net, places.lon, places.lat, ids=places.ids, max_distance_m=max_snap_m)
    notes.extend(str(w.message) for w in caught)
    return snapped


def travel(
    net: RoadNetwork | None,
    places: Places,
    snapped: Snapped,
    locations: Sequence[int],
    fleet: FleetIn,
    *,
    notes: list[str],
    side_rules: Sequence[str] = (),
) -> Travel:
    """Matrices and drives between ``locations`` for each distinct vehicle profile.

    Each kind of vehicle stops on the nearest street it may drive on (with
    the turn model: that it can reach and leave with turns obeyed); its
    snapping warnings are added to ``notes`` only where they name ids not
    named already. ``side_rules`` gives each location's side rule
    (``auto``, ``either`` or ``kerb``; depots and facilities are yards).
    Without a network (``None``) the matrices are estimated (:func:`estimate_travel`).
    """
    if net is None:
        return estimate_travel(places, locations, fleet)
    locs = list(locations)
    stops = snapped.take(locs)
    profiles = {v.id: vehicle_profile(v) for v in fleet.vehicles}
    distinct = list({p.name: p for p in profiles.values()}.values())
    model = fleet.planning.turns.model
    n_fixed = len(fleet.depots) + len(fleet.facilities)
    directed = np.array([k >= n_fixed for k in range(len(locs))]) if model == "turns" else np.zeros(len(locs), bool)
    rules = turn_rules(fleet)
    matrices: dict[str, Matrix] = {}
    finders: dict[str, PathFinder] = {}
    kerbside: dict[str, KerbsideModel] = {}
    turned: dict[str, tuple[TurnGraph, Snapped, WalkOuts]] = {}
    for prof in distinct:
        rg = routing_graph(net, prof)
        tg = turn_graph(rg, rules) if model == "turns" else None
        allowed = core_edges(tg) if tg is not None else drivable_core(rg)
        own = _snap_for(net, places, locs, stops.ids, allowed, fleet, prof, notes)
        if tg is None:
            finders[prof.name] = PathFinder(rg, own)
            matrices[prof.name] = Matrix.from_float(*travel_matrices(rg, own))
            continue
        turned[prof.name] = (tg, own, walk_outs(tg, own, within_m=fleet.planning.turns.walk_out_m, directed=directed))
    spots = np.zeros(len(locs), dtype=np.int64)
    for _, _, walks in turned.values():
        spots = np.maximum(spots, np.bincount(walks.point, minlength=len(locs)))
    layout = SlotLayout.for_points(directed, spots)
    for name, (tg, own, walks) in turned.items():
        rules_here = ["either"] * n_fixed + [r or "auto" for r in side_rules] if side_rules else ["auto"] * len(locs)
        kerb = kerb_required(net, own, rules_here) & directed
        kerbside[name] = kerbside_model(tg, own, layout, directed=directed, kerb=kerb, walk_outs=walks)
        time, dist = kerbside[name].whole_matrices(Matrix.UNREACHABLE)
        walk_at, metres = kerbside[name].walk_slots()
        add_walking(time, walk_at, walk_out_seconds(metres, fleet), cap=Matrix.UNREACHABLE)
        matrices[name] = Matrix(time, dist)
    slot_point = np.repeat(np.arange(len(locs)), layout.count)
    if model == "turns":
        filled = np.logical_or.reduce([m.filled for m in kerbside.values()])
        slots = [[s for s in layout.slots_of(i) if filled[s]] for i in range(len(locs))]
    else:
        slots = [[i] for i in range(len(locs))]
    return Travel(stops, profiles, matrices, slot_point, slots, model, finders, kerbside, net)


def _snap_for(
    net: RoadNetwork,
    places: Places,
    locs: list[int],
    ids: Sequence[str],
    allowed: NDArray[np.bool_],
    fleet: FleetIn,
    prof: VehicleProfile,
    notes: list[str],
) -> Snapped:
    """Snap the chosen places for one vehicle profile, adding only new warnings to ``notes``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        own = snap_points(
            net,
            places.lon[locs],
            places.lat[locs],
            ids=ids,
            allowed=allowed,
            max_distance_m=fleet.planning.max_snap_m,
        )
    said = {i for n in notes for i in n.rsplit(": ", 1)[-1].split(", ")}
    notes.extend(
        f"vehicle profile {prof.name}: {w.message}"
        for w in caught
        if not set(str(w.message).rsplit(": ", 1)[-1].split(", ")) <= said
    )
    return own
