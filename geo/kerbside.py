"""Stops as directed kerbside visits: which ways a lorry may pass each bin.

A bin snapped onto a street (:class:`~binroute.geo.snap.Snapped`) may be served while
driving either way along a two-way street, or only one way:

* on a one-way street, the way it runs;
* where it must be served from the kerb (the crew must not cross traffic
  with a wheeled bin), the way that has the bin on the lorry's kerb side:
  the right where traffic keeps right, the left where it keeps left. By
  default (side rule ``"auto"``) that is on roads of class tertiary and
  above, or with more than one lane per direction; ``"kerb"`` asks for it
  anywhere, ``"either"`` never.

Depots and disposal sites are yards: one place entered and left along
either direction of their street.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from .geojson import point_along
from .network import FloatArray, IntArray, RoadNetwork
from .restrictions import binding_scopes
from .snap import LEFT, RIGHT, Snapped
from .turn_matrix import KEPT_CELLS, kept_place_matrices, turn_matrix_rows
from .turn_paths import Drive, TurnPathFinder
from .turns import Places, TurnGraph
from .walkouts import WalkOuts

#: Road classes on which a bin is served from the kerb by default.
KERB_HIGHWAYS = frozenset(
    f"{road}{link}" for road in ("motorway", "trunk", "primary", "secondary", "tertiary") for link in ("", "_link")
)
SIDE_RULES = ("auto", "either", "kerb")
KERB, OFF_SIDE = "kerb", "off-side"
#: The side of a walk-out place (:mod:`binroute.geo.walkouts`): the lorry waits on the through street.
WALK_OUT = "walk-out"


def kerb_required(net: RoadNetwork, snapped: Snapped, rules: Sequence[str]) -> NDArray[np.bool_]:
    """Per point, whether it must be served from the kerb (see the module notes)."""
    out = np.zeros(len(snapped), dtype=bool)
    for i, rule in enumerate(rules):
        if rule not in SIDE_RULES:
            raise ValueError(f"point {snapped.ids[i]}: side must be one of {', '.join(SIDE_RULES)}, not {rule!r}")
        if rule == "kerb":
            out[i] = True
        elif rule == "auto":
            e = int(snapped.edge[i])
            lanes = net.lanes[e] if len(net.lanes) else np.nan
            out[i] = net.highway[e] in KERB_HIGHWAYS or bool(lanes > 1)
    return out


@dataclass(frozen=True)
class StopPlaces:
    """Places for a list of snapped points, and what each place is.

    ``owner[p]`` is the point place ``p`` serves; ``side[p]`` is
    :data:`KERB` or :data:`OFF_SIDE` for a directed visit (where the bin
    stands as the lorry passes), :data:`WALK_OUT` for a walk-out (the lorry
    waits on the through street, ``walk_m[p]`` from the bin) and ``""`` for
    a yard.
    """

    places: Places
    owner: IntArray
    side: tuple[str, ...]
    walk_m: FloatArray | None = None  # per place, the crew's walk one way (0 but for walk-outs)

    def walk(self, place: int) -> float:
        """How far (m, one way) the crew walks from the lorry to the bin at ``place`` (0 but for a walk-out)."""
        return 0.0 if self.walk_m is None else float(self.walk_m[place])

    def of(self, point: int) -> list[int]:
        """The places that serve ``point``."""
        return np.flatnonzero(self.owner == point).tolist()


#: A place stands at least this far (m) inside its edge, never on the node at either end.
INSIDE_M = 1.0


def stop_places(
    snapped: Snapped,
    *,
    directed: NDArray[np.bool_],
    kerb: NDArray[np.bool_],
    driving_side: str = "right",
    length_m: FloatArray | None = None,
    walk_outs: WalkOuts | None = None,
) -> StopPlaces:
    """One place per allowed direction for each directed point, one yard for each other point.

    A point that snaps to the very end of an edge (a bin beyond the end of
    a cul-de-sac, or at a corner) is a place :data:`INSIDE_M` inside the
    edge when ``length_m`` (the network's edge lengths) is given: otherwise
    a visit "just after the U-turn at the end" would sit on the same node as
    one "just before it", and the geometry of the drive could not say in
    which direction the lorry passes the bin, which is what the side means.

    Parameters
    ----------
    snapped
        The points on the network.
    directed
        Per point: a bin (directed visits) rather than a yard.
    kerb
        Per point: must be served with the bin on the lorry's kerb side
        (only meaningful for directed points on two-way streets).
    driving_side
        ``"right"`` or ``"left"``: the kerb side.
    length_m
        Per network edge, its length: keeps places off the nodes (see above).
    walk_outs
        Walk-out spots (:func:`~binroute.geo.walkouts.walk_outs`): each a
        place of its point after its directed ones, with side :data:`WALK_OUT`.
    """
    kerb_name = RIGHT if driving_side == "right" else LEFT
    edges: list[int] = []
    ts: list[float] = []
    owners: list[int] = []
    places: list[int] = []
    sides: list[str] = []
    walks: list[float] = []
    walks_of = walk_outs if walk_outs is not None else WalkOuts.none()
    for i in range(len(snapped)):
        e, twin, t = int(snapped.edge[i]), int(snapped.twin[i]), float(snapped.t[i])
        if length_m is not None:
            inside = min(INSIDE_M / max(float(length_m[e]), 1e-9), 0.5)
            t = min(max(t, inside), 1.0 - inside)
        if not directed[i]:
            edges.append(e)
            ts.append(t)
            places.append(len(owners))
            if twin >= 0:
                edges.append(twin)
                ts.append(1.0 - t)
                places.append(len(owners))
            owners.append(i)
            sides.append("")
            walks.append(0.0)
            continue
        along = KERB if snapped.side[i] == kerb_name else OFF_SIDE
        options = [(e, t, along)]
        if twin >= 0:
            options.append((twin, 1.0 - t, OFF_SIDE if along == KERB else KERB))
            if kerb[i]:
                options = [o for o in options if o[2] == KERB]
        for edge, frac, side in options:
            edges.append(edge)
            ts.append(frac)
            places.append(len(owners))
            owners.append(i)
            sides.append(side)
            walks.append(0.0)
        for k in walks_of.of(i):
            edges.append(int(walks_of.edge[k]))
            ts.append(float(walks_of.t[k]))
            places.append(len(owners))
            owners.append(i)
            sides.append(WALK_OUT)
            walks.append(float(walks_of.walk_m[k]))
    return StopPlaces(
        places=Places(
            edge=np.array(edges, dtype=np.int64),
            t=np.array(ts, dtype=float),
            place=np.array(places, dtype=np.int64),
            n_places=len(owners),
        ),
        owner=np.array(owners, dtype=np.int64),
        side=tuple(sides),
        walk_m=np.array(walks, dtype=float),
    )


@dataclass(frozen=True)
class SlotLayout:
    """A layout of matrix locations shared by every vehicle profile.

    Each directed point has two slots (its first and second allowed
    direction) and then one per walk-out spot it may have (the most any
    profile gives it), each yard one. A profile fills the slots it has; the
    others stay unreachable in its matrices, so every profile's matrices
    have the same size and a bin's alternatives mean the same slots for
    every vehicle.
    """

    first: IntArray  # per point, its first slot
    count: IntArray  # per point, how many slots it has (1, or 2 plus its walk-out spots)

    @property
    def n_slots(self) -> int:
        return int(self.count.sum())

    @classmethod
    def for_points(cls, directed: NDArray[np.bool_], walk_out_spots: IntArray | None = None) -> SlotLayout:
        count = np.where(directed, 2, 1).astype(np.int64)
        if walk_out_spots is not None:
            count = count + np.where(directed, walk_out_spots, 0).astype(np.int64)
        return cls(np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64), count)

    def slots_of(self, point: int) -> list[int]:
        return list(range(int(self.first[point]), int(self.first[point] + self.count[point])))


def slot_of_places(layout: SlotLayout, sp: StopPlaces) -> IntArray:
    """Per place of ``sp``, its slot in ``layout`` (a point's places fill its slots in order, walk-outs from slot 2)."""
    out = np.empty(len(sp.owner), dtype=np.int64)
    seen: dict[tuple[int, bool], int] = {}
    for p, point in enumerate(sp.owner.tolist()):
        walk = sp.side[p] == WALK_OUT
        k = seen.get((point, walk), 2 if walk else 0)
        if k >= layout.count[point] or (not walk and k >= 2):
            raise ValueError(f"point {point} has more places than slots")
        out[p] = layout.first[point] + k
        seen[point, walk] = k + 1
    return out


#: Time zones of places where traffic keeps left (the kerb is on the left).
LEFT_HAND_ZONES = frozenset(
    {
        "Europe/London",
        "Europe/Dublin",
        "Europe/Isle_of_Man",
        "Europe/Jersey",
        "Europe/Guernsey",
        "Europe/Malta",
        "Asia/Nicosia",
        "Europe/Nicosia",
        "Asia/Famagusta",
        "Atlantic/St_Helena",
        "Australia/Sydney",
        "Australia/Melbourne",
        "Australia/Brisbane",
        "Australia/Perth",
        "Australia/Adelaide",
        "Australia/Hobart",
        "Australia/Darwin",
        "Australia/Canberra",
        "Australia/Lord_Howe",
        "Australia/Broken_Hill",
        "Australia/Eucla",
        "Australia/Lindeman",
        "Pacific/Auckland",
        "Pacific/Chatham",
        "Pacific/Fiji",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Asia/Calcutta",
        "Asia/Dhaka",
        "Asia/Karachi",
        "Asia/Colombo",
        "Asia/Kathmandu",
        "Asia/Thimphu",
        "Indian/Maldives",
        "Asia/Bangkok",
        "Asia/Kuala_Lumpur",
        "Asia/Kuching",
        "Asia/Singapore",
        "Asia/Jakarta",
        "Asia/Makassar",
        "Asia/Jayapura",
        "Asia/Hong_Kong",
        "Asia/Macau",
        "Asia/Brunei",
        "Asia/Dili",
        "Africa/Johannesburg",
        "Africa/Nairobi",
        "Africa/Kampala",
        "Africa/Dar_es_Salaam",
        "Africa/Harare",
        "Africa/Lusaka",
        "Africa/Maputo",
        "Africa/Gaborone",
        "Africa/Windhoek",
        "Africa/Maseru",
        "Africa/Mbabane",
        "Africa/Blantyre",
        "Indian/Mauritius",
        "Indian/Mahe",
        "America/Jamaica",
        "America/Barbados",
        "America/Port_of_Spain",
        "America/Guyana",
        "America/Paramaribo",
        "America/Nassau",
        "America/Antigua",
        "America/St_Lucia",
        "America/Grenada",
        "America/St_Vincent",
        "America/Dominica",
        "America/St_Kitts",
        "America/Anguilla",
        "America/Montserrat",
        "America/Tortola",
        "America/St_Thomas",
        "America/Cayman",
        "Atlantic/Bermuda",
        "Atlantic/Stanley",
        "Pacific/Port_Moresby",
        "Pacific/Guadalcanal",
        "Pacific/Tongatapu",
        "Pacific/Apia",
        "Pacific/Tarawa",
        "Pacific/Nauru",
        "Pacific/Funafuti",
        "Pacific/Rarotonga",
        "Pacific/Niue",
        "Pacific/Norfolk",
    }
)


def driving_side_for_timezone(tz: str) -> str:
    """``"left"`` where the time zone is one of a country that keeps left, else ``"right"``.

    A default for a fleet that does not say; ``planning.driving_side`` in
    ``fleet.json`` overrides it.
    """
    return "left" if tz in LEFT_HAND_ZONES else "right"


@dataclass(frozen=True)
class KerbsideModel:
    """One vehicle profile's turn-aware view of a day's points, over a shared slot layout.

    :meth:`whole_matrices` gives its travel times and distances between
    slots; :meth:`drive` gives the street geometry and U-turns of the drive
    between two slots.
    """

    turns: TurnGraph
    snapped: Snapped
    stops: StopPlaces
    layout: SlotLayout
    slots: IntArray  # per place, its slot
    finder: TurnPathFinder

    def whole_matrices(self, cap: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Whole seconds and metres of the fastest legal drives between slots, ``n_slots`` square.

        Rounded to the nearest unit (ties to even) and capped at ``cap``,
        which also stands for no drive (a slot without a place for this
        profile, or no legal way there); 0 on the diagonal. Filled a block
        of places at a time (:func:`~binroute.geo.turn_matrix.turn_matrix_rows`), so no
        full-size float matrix is ever held: at 10,000 stops (20,000
        places) the float64 pair alone would be 6.4 GB. Up to
        :data:`~binroute.geo.turn_matrix.KEPT_CELLS` place pairs, the drives
        are read from those this process or the network's folder kept
        (:func:`~binroute.geo.turn_matrix.kept_place_matrices`), searching only new places.
        """
        n = self.layout.n_slots
        time = np.full((n, n), cap, dtype=np.int32)
        dist = np.full((n, n), cap, dtype=np.int32)
        if self.stops.places.n_places**2 <= KEPT_CELLS:  # reusing the drives this process searched already
            at = np.ix_(self.slots, self.slots)
            time[at], dist[at] = kept_place_matrices(self.turns, self.stops.places, cap)
            np.fill_diagonal(time, 0)
            np.fill_diagonal(dist, 0)
            return time, dist
        for rows, t, d in turn_matrix_rows(self.turns, self.stops.places):
            at = np.ix_(self.slots[rows], self.slots)
            for block, out in ((t, time), (d, dist)):  # in place: a block's float rows are 0.6 GB at 20,000 places
                np.rint(block, out=block)
                np.minimum(block, cap, out=block)
                out[at] = block
        np.fill_diagonal(time, 0)
        np.fill_diagonal(dist, 0)
        return time, dist

    @property
    def filled(self) -> NDArray[np.bool_]:
        """Per slot, whether this profile has a place there."""
        out = np.zeros(self.layout.n_slots, dtype=bool)
        out[self.slots] = True
        return out

    def place(self, slot: int) -> int:
        """The place in ``slot`` (a ``ValueError`` if this profile has none there)."""
        hit = np.flatnonzero(self.slots == slot)
        if len(hit) == 0:
            raise ValueError(f"slot {slot} has no place for this vehicle profile")
        return int(hit[0])

    @cached_property
    def banned(self) -> frozenset[tuple[int, int]]:
        """The turns OSM restrictions forbid this profile (computed once, for auditing its drives)."""
        return banned_turns(self.turns.rg.net, hgv=self.turns.rg.profile.is_hgv)

    def side(self, slot: int) -> str:
        """Where the bin in ``slot`` stands as the lorry passes: ``"kerb"``, ``"off-side"``, ``"walk-out"``, ``""``."""
        return self.stops.side[self.place(slot)]

    def walk_m(self, slot: int) -> float:
        """How far (m, one way) the crew walks to the bin in ``slot``: 0 but for a walk-out."""
        return self.stops.walk(self.place(slot))

    def walk_slots(self) -> tuple[IntArray, FloatArray]:
        """The slots of this profile's walk-outs, and each one's walk (m, one way)."""
        walk = np.flatnonzero(np.array([side == WALK_OUT for side in self.stops.side], dtype=bool))
        return self.slots[walk], np.array([self.stops.walk(int(p)) for p in walk], dtype=float)

    def position(self, slot: int) -> tuple[float, float]:
        """Where the lorry stops for ``slot``: lon, lat on the edge it drives past the bin along."""
        p = self.place(slot)
        entry = int(np.flatnonzero(self.stops.places.place == p)[0])
        e, t = int(self.stops.places.edge[entry]), float(self.stops.places.t[entry])
        return point_along(self.turns.rg.net.geometry[e], t)

    def drive(self, a: int, b: int) -> Drive:
        """The fastest legal drive from slot ``a`` to slot ``b``."""
        return self.finder.drive(self.place(a), self.place(b))


def kerbside_model(
    tg: TurnGraph,
    snapped: Snapped,
    layout: SlotLayout,
    *,
    directed: NDArray[np.bool_],
    kerb: NDArray[np.bool_],
    walk_outs: WalkOuts | None = None,
) -> KerbsideModel:
    """Places, matrices and paths for ``snapped`` points under ``tg``'s turn rules (see :func:`stop_places`)."""
    sp = stop_places(
        snapped,
        directed=directed,
        kerb=kerb,
        driving_side=tg.rules.driving_side,
        length_m=tg.rg.net.length_m,
        walk_outs=walk_outs,
    )
    return KerbsideModel(
        turns=tg,
        snapped=snapped,
        stops=sp,
        layout=layout,
        slots=slot_of_places(layout, sp),
        finder=TurnPathFinder(tg, sp.places),
    )


def banned_turns(net: RoadNetwork, *, hgv: bool = True) -> frozenset[tuple[int, int]]:
    """The ``(from edge, to edge)`` turns an OSM restriction forbids a vehicle (heavy goods or not)."""
    binding = np.isin(net.ban_scope, binding_scopes(hgv))
    return frozenset(zip(net.ban_from[binding].tolist(), net.ban_to[binding].tolist(), strict=True))


def illegal_turns(banned: frozenset[tuple[int, int]], edges: Sequence[int]) -> int:
    """How many consecutive pairs of ``edges`` (a drive) make a turn in ``banned`` (see :func:`banned_turns`)."""
    return sum((a, b) in banned for a, b in itertools.pairwise(edges))


def unavoidable_u_turns(stops: StopPlaces, pocket: IntArray, points: Sequence[int], *, free: Sequence[int] = ()) -> int:
    """A lower bound on the U-turns of one trip that serves ``points``.

    ``pocket`` is per state (:func:`~binroute.geo.turns.u_turn_pockets`). A point
    with a place outside every pocket needs none; the others need one per
    pocket they lie in, pockets that one point's places join counting once.
    Pockets where the trip starts or ends (the places of the ``free``
    points: its depot, its disposal site) are not counted: a lorry already
    inside may serve on its way out.
    """
    return len(pocket_groups(stops, pocket, points, free=free))


def pocket_groups(
    stops: StopPlaces, pocket: IntArray, points: Sequence[int], *, free: Sequence[int] = ()
) -> list[set[int]]:
    """The groups of pockets that serving ``points`` needs a U-turn in, one per group (see :func:`unavoidable_u_turns`).

    A group is the pockets one point's places lie in, joined with those of
    the other points sharing a pocket with them.
    """

    def pockets_of(point: int) -> list[int]:
        return [int(k) for k in pocket[stops.places.edge[np.isin(stops.places.place, stops.of(point))]]]

    skip = {k for f in free for k in pockets_of(f) if k >= 0}
    parent: dict[int, int] = {}

    def root(k: int) -> int:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    for point in points:
        found = pockets_of(point)
        if not found or min(found) < 0 or skip & set(found):
            continue
        for k in found[1:]:
            parent[root(k)] = root(found[0])
        root(found[0])
    groups: dict[int, set[int]] = {}
    for k in list(parent):
        groups.setdefault(root(k), set()).add(k)
    return list(groups.values())
