"""How long and how a solve may search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ENGINES = ("ortools", "pyvrp", "auto")
#: How ``auto`` shapes a day's rounds: ``"districts"`` (one compact district per crew, on a day of any size
#: with two or more lorries for a stream) or ``"free"`` (one search over the whole day below
#: :data:`binroute.routing.decompose.DECOMPOSE_MIN_BINS` bins; its rounds may interleave).
ROUNDS = ("districts", "free")
#: Plan cost a move of a bin away from its usual crew must save (see :attr:`SolveParams.usual_crews`).
MOVE_SAVING = 2.0
#: Territory overlap of rounds sharing a stream a council accepts when a plan saves crew time or driving
#: (see :attr:`SolveParams.max_overlap`): the level issue #30 set for rounds a crew can own.
MAX_OVERLAP = 0.3
#: The most collection days the collect rule looks ahead (its horizon).
MAX_HORIZON = 14


@dataclass(frozen=True)
class Limits:
    """When to stop searching.

    ``time_limit_s=None`` with a ``solution_limit`` gives a deterministic run
    (what tests use): one core, no restarts, and for every engine a backstop
    deadline of :data:`binroute.routing.deadline.BACKSTOP_FACTOR` times
    :func:`default_time_limit`, for searches that stop finding new
    solutions; with both ``None`` the limit is :func:`default_time_limit`.
    :func:`binroute.routing.solve` turns these into one absolute deadline
    (:class:`binroute.routing.deadline.Budget`) when it starts.
    """

    time_limit_s: float | None = None
    solution_limit: int | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("solution_limit must be at least 1")


def default_time_limit(n_stops: int) -> float:
    """A time limit that grows with the number of stops: 5 s to 5 min."""
    return float(min(300.0, max(5.0, 0.1 * n_stops)))


@dataclass(frozen=True)
class SolveParams:
    """How to search.

    Parameters
    ----------
    engine
        ``"ortools"``, ``"pyvrp"`` or ``"auto"``.
    first_solution
        OR-Tools first-solution strategy name, or ``"auto"``.
    metaheuristic
        OR-Tools local-search metaheuristic name.
    seed
        Random seed, for the engines that take one.
    warm_start
        Routes to start from, by vehicle id: the stop ids in order (bin ids
        and facility ids for tips), depots left out.
    warm_locations
        Where the warm start serves bins that have alternative locations: the
        location (one of :attr:`binroute.routing.Bin.locations`) by bin id. A bin left
        out starts at its location nearest, in time, to the stop before it.
    max_overlap
        With ``rounds="districts"``: the territory overlap (rounds sharing a
        stream, as ``plan.json``'s ``territory_overlap_same_stream``) up to
        which a plan cheaper than the districts' may replace them; the
        districts' own overlap when that is larger. 0 keeps the districts'
        areas whatever they cost. Read only when the problem has positions.
    """

    engine: str = "auto"
    first_solution: str = "auto"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    seed: int = 0
    warm_start: Mapping[str, Sequence[str]] | None = None
    warm_locations: Mapping[str, int] | None = None
    log_search: bool = False
    rounds: str = "districts"
    usual_crews: Mapping[str, str] | None = None
    move_saving: float = MOVE_SAVING
    max_overlap: float = MAX_OVERLAP

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.rounds not in ROUNDS:
            raise ValueError(f"rounds must be one of {', '.join(ROUNDS)}, not {self.rounds!r}")
        if self.move_saving < 0:
            raise ValueError(f"move_saving must be at least 0, not {self.move_saving}")
        if not 0 <= self.max_overlap <= 1:
            raise ValueError(f"max_overlap must be between 0 and 1, not {self.max_overlap}")
