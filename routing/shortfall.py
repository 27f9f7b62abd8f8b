"""When the fleet is too small: required bins left because every crew was full, and the crews that would serve them.

A plan that leaves required bins because the crews ran out of shift time or
room (:data:`binroute.routing.feasibility.FLEET_FULL`) should say so, and say
what would fix it. :func:`fleet_shortfall` estimates, per stream, how many
more crews would serve the bins left: their work estimated as the
districting does (:func:`binroute.routing.decompose.districts.bin_work`:
service, the drive between them, their share of tip trips), against the day
of a lorry like today's that carries the stream, from the depot that is
nearest to those bins (the drive out and home taken off its day). It is an
estimate of the order of magnitude a supervisor needs (one crew or five),
not a plan: re-plan with the crews added to be sure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .decompose.districts import FILL, _loads_needed, _locs, _overhead_s, bin_work, working_day_s
from .feasibility import FLEET_FULL, explain_unserved, servable
from .problem import Problem
from .solution import Solution


@dataclass(frozen=True)
class ExtraCrews:
    """``crews`` more crews of a lorry like ``like_vehicle`` from ``depot`` for ``bins`` bins of ``stream``."""

    stream: str
    crews: int
    like_vehicle: str
    depot: str
    bins: int
    work_h: float


@dataclass(frozen=True)
class Shortfall:
    """Required bins left because the crews were full (``bins``), and the extra crews estimated per stream."""

    bins: tuple[str, ...]
    extra: tuple[ExtraCrews, ...]

    @property
    def crews(self) -> int:
        """Extra crews in all."""
        return sum(e.crews for e in self.extra)

    def message(self) -> str:
        """One line for a person: how many bins, why, and what would serve them."""
        wants = "; ".join(
            f"{e.crews} more {e.stream} crew(s) like {e.like_vehicle} from {e.depot} ({e.bins} bins, "
            f"about {e.work_h:.1f} h of work)"
            for e in self.extra
        )
        return f"{len(self.bins)} required bin(s) left because the crews are full: about {wants}"


def fleet_shortfall(problem: Problem, solution: Solution) -> Shortfall | None:
    """The required bins ``solution`` leaves because the crews were full, and the crews to add; None if none.

    A bin counts when a lorry carrying its stream could reach it and get
    home within its shift (:func:`binroute.routing.feasibility.explain_unserved`
    says the fleet ran out), so bins no lorry can reach are not blamed on
    the fleet's size.
    """
    allowed, _ = servable(problem)
    at = {item.id: b for b, item in enumerate(problem.bins)}
    left = [
        at[u.bin_id]
        for u in solution.unserved
        if u.required
        and at.get(u.bin_id) in allowed
        and explain_unserved(problem, problem.bins[at[u.bin_id]], allowed[at[u.bin_id]]) == FLEET_FULL
    ]
    if not left:
        return None
    by_stream: dict[str, list[int]] = {}
    for b in left:
        by_stream.setdefault(problem.bins[b].stream, []).append(b)
    extra = []
    for stream, bins in sorted(by_stream.items()):
        carriers = sorted({v for b in bins for v in allowed[b]})
        locs = _locs(problem, bins)
        # A lorry of each depot that carries the stream; the one whose drive out and home is least.
        by_depot = {problem.vehicles[v].start_depot: v for v in reversed(carriers)}
        model = min(by_depot.values(), key=lambda v: float(np.median(_overhead_s(problem, problem.vehicles[v], locs))))
        vehicle = problem.vehicles[model]
        overhead = float(np.median(_overhead_s(problem, vehicle, locs)))
        day = working_day_s(problem, vehicle)
        usable = max(FILL * day - overhead, FILL * day / 4)
        work = float(bin_work(problem, bins, vehicle).sum())
        crews = max(math.ceil(work / usable), _loads_needed(problem, [model], bins))
        depot = problem.depots[vehicle.start_depot].id
        extra.append(ExtraCrews(stream, crews, vehicle.id, depot, len(bins), round(work / 3600, 2)))
    return Shortfall(tuple(problem.bins[b].id for b in left), tuple(extra))
