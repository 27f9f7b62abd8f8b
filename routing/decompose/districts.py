"""One district per crew: bins clustered by geography, with a day's work for each lorry.

Refuse planning asks for compact rounds that do not overlap, one district
per crew. On a very large day ``solve(engine="auto")`` clusters first and
routes second (:mod:`binroute.routing.decompose.day`): :func:`districts` splits the bins
into one compact cluster per lorry, each about the same work, and each
lorry then routes its own district.

The clustering is a capacitated k-medoids on the round-trip travel time
between bins (so districts follow the roads, one-way streets included):

* **Work** of a bin (:func:`bin_work`): its service time, the drive to its
  nearest neighbour (about what a round spends reaching it), and its share
  of a tip trip (its load over the lorry's, times the site's tipping time
  and the drive there and back).
* **How many districts**: enough lorries that each district's work fills at
  most :data:`FILL` of a working day (shift less break, less the drive from
  the depot and home through a site), never more than the lorries there are.
* **Seeds** far apart (farthest-point), then rounds of: every bin to its
  nearest centre plus that centre's price, the prices balancing the work
  (:func:`balanced_labels`: a border moves as a whole, so districts stay
  contiguous; what is still above :data:`SLACK` times an equal share goes,
  surest bins first, to the nearest centre with room); then each centre
  moves to its district's medoid. A plain capacity-forced assignment sends
  a full district's outlying bins anywhere (territory overlap 0.60 instead
  of 0.12 on a 2,000-bin Milan day).
* **Lorries** are matched to districts by the drive from their depot to the
  district's nearest bin and home from it, plus their break
  (:func:`lorry_cost_s`, a linear assignment), so a district near one depot
  gets a lorry based there, and a lorry without a break before one with.

Bins of a stream get the lorries that carry it (each lorry one district;
the work is estimated for the first of them, so a mixed fleet gets
districts of equal work, not of equal share of each lorry's day); bins
that no lorry can reach, or whose lorries all have a district of another
stream, are left to the solver, which places or reports them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from ..feasibility import home_via_site, servable
from ..problem import Matrix, Problem, Vehicle

#: Share of a lorry's working day its district's estimated work may fill.
FILL = 0.8
#: A district may take this many times an equal share of the work.
SLACK = 1.1
#: Rounds of assignment and medoid moves.
ROUNDS = 6
#: Steps of the prices that balance the districts' work (:func:`balanced_labels`).
BALANCE_STEPS = 100
#: Rows of the bins' travel-time matrix read at a time (bounds the temporaries).
_BLOCK = 1024


@dataclass(frozen=True)
class District:
    """A lorry (vehicle index) and the bins (indices) of its district.

    ``borrowed`` are the bins of the district whose usual crew (see
    :func:`districts`) is another: its district was full, or it is not out today.
    """

    vehicle: int
    bins: tuple[int, ...]
    borrowed: tuple[int, ...] = ()


def _times(problem: Problem) -> NDArray[np.integer]:
    return problem.matrices[next(iter(problem.matrices))].time_s


def _locs(problem: Problem, bins: list[int]) -> NDArray[np.int64]:
    """The bins' (first) locations."""
    return np.array([problem.bins[b].location for b in bins], dtype=np.int64)


def nearest_neighbour_s(problem: Problem, bins: list[int]) -> NDArray[np.int64]:
    """Per bin, the drive (s) from it to the nearest other bin of ``bins`` (0 alone), by blocks of rows."""
    t = _times(problem)
    loc = _locs(problem, bins)
    out = np.zeros(len(loc), dtype=np.int64)
    if len(loc) < 2:
        return out
    for r in range(0, len(loc), _BLOCK):
        block = t[np.ix_(loc[r : r + _BLOCK], loc)].astype(np.int64)
        rows = np.arange(block.shape[0])
        block[rows, rows + r] = Matrix.UNREACHABLE  # not itself
        out[r : r + _BLOCK] = np.minimum(block.min(axis=1), Matrix.UNREACHABLE)
    return out


def bin_work(problem: Problem, bins: list[int], vehicle: Vehicle) -> NDArray[np.float64]:
    """Estimated seconds of ``vehicle``'s day each of ``bins`` takes (see the module notes)."""
    nn = nearest_neighbour_s(problem, bins).astype(float)
    service = np.array([problem.bins[b].service_s for b in bins], dtype=float)
    work = service + np.where(nn < Matrix.UNREACHABLE, nn, 0.0)
    sites = problem.facilities_for(vehicle)
    if problem.tips and sites:
        t = _times(problem)
        loc = _locs(problem, bins)
        trip = np.min(
            [
                t[loc, problem.facilities[f].location].astype(float)
                + problem.facilities[f].service_s
                + t[problem.facilities[f].location, loc]
                for f in sites
            ],
            axis=0,
        )
        share = np.array(
            [
                max((q / c for q, c in zip(problem.bins[b].demand, vehicle.capacity, strict=True) if c > 0), default=0)
                for b in bins
            ]
        )
        work += share * np.where(trip < Matrix.UNREACHABLE, trip, 0.0)
    return work


def working_day_s(problem: Problem, vehicle: Vehicle) -> float:
    """Seconds ``vehicle`` may work: its shift within its depots' hours, at most its duration, less its break."""
    start = max(vehicle.shift.start_s, problem.depots[vehicle.start_depot].window.start_s)
    end = min(vehicle.shift.end_s, problem.depots[vehicle.end_depot].window.end_s)
    day = float(end - start)
    if vehicle.max_duration_s is not None:
        day = min(day, float(vehicle.max_duration_s))
    if vehicle.break_ is not None:
        day -= vehicle.break_.duration_s
    return max(day, 0.0)


def _round_trip(problem: Problem, loc: NDArray[np.int64], centres: NDArray[np.int64]) -> NDArray[np.int64]:
    """(bins, centres) round-trip times between bin locations and centre locations, in int64."""
    t = _times(problem)
    return t[np.ix_(loc, centres)].astype(np.int64) + t[np.ix_(centres, loc)].T.astype(np.int64)


def _farthest_seeds(problem: Problem, loc: NDArray[np.int64], k: int, first: int) -> NDArray[np.int64]:
    """``k`` bin positions far from each other, starting with ``first``."""
    centres = [first]
    nearest = _round_trip(problem, loc, loc[[first]])[:, 0]
    while len(centres) < k:
        nxt = int(np.argmax(nearest))
        centres.append(nxt)
        nearest = np.minimum(nearest, _round_trip(problem, loc, loc[[nxt]])[:, 0])
    return np.array(centres, dtype=np.int64)


def assign_with_room(
    cost: NDArray[np.floating] | NDArray[np.integer], work: NDArray[np.float64], room: float
) -> NDArray[np.int64]:
    """Each row (bin) to its cheapest column (centre) with room left, surest bins first.

    A bin's sureness is its regret: how much more its second-cheapest centre
    costs. Each centre takes bins until their ``work`` reaches ``room``; a
    bin that fits nowhere goes to its cheapest centre.
    """
    n, k = cost.shape
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    order = np.argsort(cost, axis=1, kind="stable")
    best = np.take_along_axis(cost, order[:, :2], axis=1)
    regret = best[:, 1] - best[:, 0]
    load = np.zeros(k)
    label = np.empty(n, dtype=np.int64)
    for b in np.argsort(-regret, kind="stable"):
        for c in order[b]:
            if load[c] + work[b] <= room:
                break
        else:
            c = order[b, 0]
        label[b] = c
        load[c] += work[b]
    return label


def balanced_labels(cost: NDArray[np.int64], work: NDArray[np.float64], room: float) -> NDArray[np.int64]:
    """Each row (bin) to a column (centre), the centres' work at most ``room``, districts kept contiguous.

    A price per centre is added to every bin's cost of joining it, raised
    while the centre has more work than an equal share and lowered while it
    has less (:data:`BALANCE_STEPS` steps); each bin then joins its cheapest
    centre, so a border between two districts moves as a whole instead of
    a full district sending its outlying bins anywhere. What is still above
    ``room`` after that is settled by :func:`assign_with_room` on the priced
    costs.
    """
    n, k = cost.shape
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    target = float(work.sum()) / k
    scale = max(float(np.median(cost.min(axis=1))), 1.0)
    price = np.zeros(k)
    for step in range(BALANCE_STEPS):
        label = np.argmin(cost + price, axis=1)
        load = np.bincount(label, weights=work, minlength=k)
        if load.max() <= room:
            return np.asarray(label, dtype=np.int64)
        price += scale * (load / target - 1.0) / math.sqrt(step + 1)
    return assign_with_room(cost + price, work, room)


def _medoid(problem: Problem, loc: NDArray[np.int64]) -> int:
    """Position in ``loc`` of the location with the least round-trip time to all the others."""
    t = _times(problem)
    within = t[np.ix_(loc, loc)].astype(np.int64)
    return int(np.argmin(within.sum(axis=0) + within.sum(axis=1)))


def cluster(problem: Problem, bins: list[int], work: NDArray[np.float64], k: int) -> list[list[int]]:
    """``bins`` in ``k`` compact clusters of about equal ``work`` (capacitated k-medoids; see the module notes)."""
    k = max(1, min(k, len(bins)))
    loc = _locs(problem, bins)
    depot = problem.depots[0].location
    t = _times(problem)
    first = int(np.argmax(t[depot, loc].astype(np.int64) + t[loc, depot]))
    cs = _farthest_seeds(problem, loc, k, first)
    room = SLACK * float(work.sum()) / k
    label = balanced_labels(_round_trip(problem, loc, loc[cs]), work, room)
    for _ in range(ROUNDS):
        new = cs.copy()
        for r in range(k):
            members = np.flatnonzero(label == r)
            if len(members):
                new[r] = members[_medoid(problem, loc[members])]
        if np.array_equal(new, cs):
            break
        cs = new
        label = balanced_labels(_round_trip(problem, loc, loc[cs]), work, room)
    return [[bins[i] for i in np.flatnonzero(label == r)] for r in range(k) if np.any(label == r)]


def _overhead_s(problem: Problem, vehicle: Vehicle, locations: NDArray[np.int64]) -> NDArray[np.int64]:
    """Per location: the drive from ``vehicle``'s depot to it and home (through a site when it tips)."""
    t = problem.matrix(vehicle).time_s
    out = t[problem.depots[vehicle.start_depot].location, locations].astype(np.int64)
    if problem.tips:
        back = home_via_site(problem, vehicle)[0][locations, vehicle.end_depot].astype(np.int64)
    else:
        back = t[locations, problem.depots[vehicle.end_depot].location].astype(np.int64)
    return np.asarray(np.minimum(out + back, Matrix.UNREACHABLE), dtype=np.int64)


def lorry_cost_s(problem: Problem, vehicle: Vehicle, bins: list[int]) -> float:
    """Seconds of ``vehicle``'s day a district of ``bins`` costs beyond its bins' work: the way in and out, its break.

    The way in is the drive from the lorry's depot to the district's nearest
    bin, the way out the drive from its nearest bin home (through a site when
    the lorry tips): a round enters at its near edge and sweeps the district.
    The drive to the district's centre also counts part of the sweep, which
    every lorry drives alike (with two depots it sent both lorries of a Milan
    day from one depot, where the free search used one from each). The
    lorry's break is time its crew is paid and does not collect: of two
    lorries at one depot, the one without a break costs less (on the sample
    the districts gave the day's general waste to the lorry with a break, the
    free search to the one without: half an hour more crew time).
    """
    loc = _locs(problem, bins)
    t = problem.matrix(vehicle).time_s
    way_in = float(t[problem.depots[vehicle.start_depot].location, loc].min())
    if problem.tips:
        back = home_via_site(problem, vehicle)[0][loc, vehicle.end_depot]
    else:
        back = t[loc, problem.depots[vehicle.end_depot].location]
    rest = float(vehicle.break_.duration_s) if vehicle.break_ is not None else 0.0
    return min(way_in + float(back.min()), float(Matrix.UNREACHABLE)) + rest


def _usable_s(problem: Problem, fleet: list[int], bins: list[int]) -> float:
    """Seconds of bin work a lorry of ``fleet`` may take on: :data:`FILL` of its day, less the drive out and home."""
    model = problem.vehicles[fleet[0]]
    overhead = float(np.median(_overhead_s(problem, model, _locs(problem, bins))))
    day = float(np.mean([working_day_s(problem, problem.vehicles[v]) for v in fleet]))
    return max(FILL * day - overhead, FILL * day / 4)


def _loads_needed(problem: Problem, fleet: list[int], bins: list[int]) -> int:
    """Lorry-loads the bins make when the lorries cannot tip during the day (1 when they can)."""
    model = problem.vehicles[fleet[0]]
    if problem.tips and problem.facilities_for(model):
        return 1
    need = 1
    for d, cap in enumerate(model.capacity):
        total = sum(problem.bins[b].demand[d] for b in bins)
        if cap > 0:
            need = max(need, math.ceil(total / (FILL * cap)))
    return need


def districts(problem: Problem, usual: Mapping[int, int] | None = None, *, fewer: int = 0) -> list[District]:
    """One compact district per lorry used, each about the same work (see the module notes).

    Parameters
    ----------
    problem
        The day.
    usual
        Each bin's usual lorry (vehicle index by bin index), where it has one:
        the districts are then the usual crews' (:func:`usual_districts`).
    fewer
        Districts fewer than the estimate of the work asks for, per stream (never fewer than one, nor than
        the lorry-loads the bins make when the lorries cannot tip).

    Returns
    -------
    list of District
        Per lorry used, the bins it is given; bins no lorry can serve are in none.
    """
    allowed, _ = servable(problem)
    by_stream: dict[str, list[int]] = {}
    for b in sorted(allowed):
        by_stream.setdefault(problem.bins[b].stream, []).append(b)
    free = set(range(len(problem.vehicles)))
    out: list[District] = []
    for stream, bins in sorted(by_stream.items(), key=lambda kv: -len(kv[1])):
        fleet = sorted(v for v in free if stream in problem.vehicles[v].streams)
        if not fleet:
            continue  # every lorry for it has a district of another stream: the solver places these
        usable = _usable_s(problem, fleet, bins)
        if usual and any(usual.get(b) in fleet for b in bins):
            found = usual_districts(problem, bins, fleet, usual, usable, drop=fewer)
            out.extend(found)
            free -= {d.vehicle for d in found}
            continue
        work = bin_work(problem, bins, problem.vehicles[fleet[0]])
        by_time = min(len(fleet), math.ceil(float(work.sum()) / usable)) - fewer
        k = min(len(fleet), max(1, by_time, _loads_needed(problem, fleet, bins)))
        parts = cluster(problem, bins, work, k)
        cost = np.array([[lorry_cost_s(problem, problem.vehicles[v], p) for p in parts] for v in fleet])
        rows, cols = linear_sum_assignment(cost)
        for v_pos, part in zip(rows, cols, strict=True):
            out.append(District(fleet[v_pos], tuple(parts[part])))
            free.discard(fleet[v_pos])
    return out


def usual_districts(
    problem: Problem, bins: list[int], fleet: list[int], usual: Mapping[int, int], usable: float, *, drop: int = 0
) -> list[District]:
    """Districts of the usual crews: each bin with its usual lorry, a district over a day's work lending its edge.

    Each lorry of ``fleet`` with usual bins among ``bins`` gets a district
    centred on them (their medoid); a bin without a usual lorry of
    ``fleet``, or whose usual lorry is not out, joins the nearest centre
    (round trip). A district with more estimated work than ``usable``
    then gives, one bin at a time, the bin that costs least to move (its
    round trip to a centre with room less its own) to that neighbour: a
    full district lends its edge to its neighbours, not bins from across
    town. With ``drop``, that many of the usual crews with the least usual
    work stay home when the others' days hold all the work: their bins join
    the nearest centres.
    """
    own = sorted({usual[b] for b in bins if usual.get(b) in fleet})
    if drop and len(own) > drop:
        total = float(bin_work(problem, bins, problem.vehicles[own[0]]).sum())
        if total <= (len(own) - drop) * usable:
            count = {v: sum(usual.get(b) == v for b in bins) for v in own}
            own = sorted(sorted(own, key=lambda v: (count[v], v))[drop:])
    loc = _locs(problem, bins)
    centres = []
    for v in own:
        members = np.array([i for i, b in enumerate(bins) if usual.get(b) == v], dtype=np.int64)
        centres.append(int(loc[members[_medoid(problem, loc[members])]]))
    cost = _round_trip(problem, loc, np.array(centres, dtype=np.int64))
    pos = {v: k for k, v in enumerate(own)}
    label = np.array([pos.get(usual.get(b, -1), -1) for b in bins], dtype=np.int64)
    label = np.where(label >= 0, label, np.argmin(cost, axis=1))
    work = bin_work(problem, bins, problem.vehicles[own[0]])
    load = np.bincount(label, weights=work, minlength=len(own))
    while len(own) > 1:
        over = np.flatnonzero(load > usable)
        if not len(over):
            break
        d = int(over[np.argmax(load[over])])
        members = np.flatnonzero(label == d)
        room = load + work.max() <= usable
        room[d] = False
        if not room.any() or len(members) <= 1:
            break
        extra = cost[np.ix_(members, np.flatnonzero(room))] - cost[members, d][:, None]
        i, j = np.unravel_index(int(np.argmin(extra)), extra.shape)
        b, to = int(members[i]), int(np.flatnonzero(room)[j])
        label[b], load[d], load[to] = to, load[d] - work[b], load[to] + work[b]
    out = []
    for k, v in enumerate(own):
        mine = [bins[i] for i in np.flatnonzero(label == k)]
        if mine:
            out.append(District(v, tuple(mine), tuple(b for b in mine if usual.get(b) != v)))
    return out
