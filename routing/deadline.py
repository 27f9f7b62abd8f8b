"""When a solve stops: one absolute deadline, and the criteria a search calls.

:func:`binroute.routing.solve` turns the caller's :class:`~binroute.routing.limits.Limits` into
one :class:`Budget` at the moment it starts; every stage below it (PyVRP,
OR-Tools, our own scheduling, the helper process) reads the time it has left
from that budget's :class:`Deadline` instead of keeping a clock of its own.
A stage that should stop earlier gets a budget with an earlier deadline
(:meth:`Budget.until`, :meth:`Deadline.share`), never a new count of seconds.

The criteria (:class:`StopAt`, :class:`MaxIterations`, :class:`NoImprovement`,
:class:`AnyOf`, :class:`GiveUp`) follow PyVRP's ``pyvrp.stop`` protocol: called with the best
cost found so far, they answer whether to stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .limits import Limits, default_time_limit

#: A solution limit alone is a deterministic run; so that a search which stops
#: finding solutions cannot run for ever, it has a backstop deadline this many
#: times the size-scaled default time limit.
BACKSTOP_FACTOR = 4
#: PyVRP iterations that count as one "solution" of a solution limit.
ITERATIONS_PER_SOLUTION = 50
#: PyVRP's cost of an infeasible solution is the largest integer it has.
INFEASIBLE_COST = 2**62

Clock = Callable[[], float]


@dataclass(frozen=True)
class Deadline:
    """An instant on the monotonic clock by which work must stop.

    ``total_s`` is the length it was made with (stages size their shares
    from it). Pickled, a deadline keeps its instant across processes on one
    machine (it travels as wall-clock time and is read back on the
    receiver's monotonic clock).
    """

    at: float
    total_s: float

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now."""
        if seconds < 0:
            raise ValueError(f"a deadline needs seconds >= 0, not {seconds}")
        return cls(clock() + seconds, float(seconds))

    def left(self, *, clock: Clock = time.monotonic) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(self.at - clock(), 0.0)

    def passed(self, *, clock: Clock = time.monotonic) -> bool:
        return clock() >= self.at

    def share(self, fraction: float, *, clock: Clock = time.monotonic) -> Deadline:
        """The deadline ``fraction`` of the time left from now (for a first stage of several)."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], not {fraction}")
        left = self.left(clock=clock) * fraction
        return Deadline(clock() + left, left)

    def __reduce__(self) -> tuple[Callable[[float, float], Deadline], tuple[float, float]]:
        wall = time.time() + (self.at - time.monotonic())
        return _from_wall_clock, (wall, self.total_s)


def _from_wall_clock(wall: float, total_s: float) -> Deadline:
    return Deadline(time.monotonic() + (wall - time.time()), total_s)


@dataclass(frozen=True)
class Budget:
    """What one solve (or one stage of it) may spend.

    Parameters
    ----------
    deadline
        When to stop at the latest.
    solution_limit
        How many solutions (OR-Tools) or ``ITERATIONS_PER_SOLUTION`` times as
        many iterations (PyVRP) to search for, if set.
    timed
        Whether the deadline is the caller's time limit (``True``) or only a
        backstop for a deterministic solution-limit run (``False``). Only a
        timed budget is spread over restarts and a second core: a
        deterministic run must not depend on the machine's speed.
    """

    deadline: Deadline
    solution_limit: int | None = None
    timed: bool = True

    @classmethod
    def from_limits(cls, limits: Limits, n_stops: int, *, clock: Clock = time.monotonic) -> Budget:
        """The budget a solve of ``n_stops`` stops starts with (see :class:`~binroute.routing.limits.Limits`)."""
        if limits.time_limit_s is not None:
            return cls(Deadline.after(limits.time_limit_s, clock=clock), limits.solution_limit)
        if limits.solution_limit is not None:
            backstop = BACKSTOP_FACTOR * default_time_limit(n_stops)
            return cls(Deadline.after(backstop, clock=clock), limits.solution_limit, timed=False)
        return cls(Deadline.after(default_time_limit(n_stops), clock=clock))

    def until(self, deadline: Deadline) -> Budget:
        """This budget, stopping at ``deadline`` instead (never later than its own)."""
        return Budget(deadline if deadline.at <= self.deadline.at else self.deadline, self.solution_limit, self.timed)

    def share(self, fraction: float, *, clock: Clock = time.monotonic) -> Budget:
        """This budget cut to ``fraction`` of the time it has left (a timed budget only)."""
        return self.until(self.deadline.share(fraction, clock=clock)) if self.timed else self

    @property
    def iterations(self) -> int | None:
        """PyVRP iterations for the solution limit, if one is set."""
        return None if self.solution_limit is None else self.solution_limit * ITERATIONS_PER_SOLUTION


class StopAt:
    """Stop once ``deadline`` has passed.

    Unlike PyVRP's ``MaxRuntime``, which starts counting at its first call,
    this counts everything since the deadline was made (building the data,
    the initial population).
    """

    def __init__(self, deadline: Deadline, *, clock: Clock = time.monotonic) -> None:
        self._deadline, self._clock = deadline, clock

    def __call__(self, best_cost: float) -> bool:
        return self._deadline.passed(clock=self._clock)


class MaxIterations:
    """Stop after ``iterations`` calls."""

    def __init__(self, iterations: int) -> None:
        if iterations < 0:
            raise ValueError("iterations must be >= 0")
        self._left = iterations

    def __call__(self, best_cost: float) -> bool:
        self._left -= 1
        return self._left < 0


class NoImprovement:
    """Stop after ``iterations`` calls in a row without a lower best cost."""

    def __init__(self, iterations: int) -> None:
        if iterations < 1:
            raise ValueError("iterations must be >= 1")
        self._patience = iterations
        self._best = float("inf")
        self._since = 0

    def __call__(self, best_cost: float) -> bool:
        if best_cost < self._best:
            self._best, self._since = best_cost, 0
            return False
        self._since += 1
        return self._since >= self._patience


class AnyOf:
    """Stop as soon as any of ``criteria`` says so (each is called every time)."""

    def __init__(self, criteria: Sequence[Callable[[float], bool]]) -> None:
        self._criteria = list(criteria)

    def __call__(self, best_cost: float) -> bool:
        return any([stop(best_cost) for stop in self._criteria])  # a list: every criterion counts the call


def criterion_for(budget: Budget, *, patience: int | None = None, clock: Clock = time.monotonic) -> AnyOf:
    """The criterion that spends ``budget``: its deadline, its iterations if set, and ``patience`` if given.

    ``patience`` stops a search early after that many iterations without a
    better plan (:class:`NoImprovement`).
    """
    criteria: list[Callable[[float], bool]] = [StopAt(budget.deadline, clock=clock)]
    if budget.iterations is not None:
        criteria.append(MaxIterations(budget.iterations))
    if patience is not None:
        criteria.append(NoImprovement(patience))
    return AnyOf(criteria)


class GiveUp:
    """Stop when ``budget`` is spent, or once ``share`` of it has passed with no feasible plan.

    The share is of the time left when this criterion is made and of the
    iteration limit, whichever the budget has (a deterministic run gives up
    by iterations only). A cost of :data:`INFEASIBLE_COST` or more means
    infeasible.
    """

    def __init__(self, budget: Budget, share: float, *, clock: Clock = time.monotonic) -> None:
        self._inner = criterion_for(budget, clock=clock)
        self._clock = clock
        self._give_up_at = clock() + share * budget.deadline.left(clock=clock) if budget.timed else None
        iterations = budget.iterations
        self._iterations = None if iterations is None else max(1, int(share * iterations))
        self._count = 0

    def __call__(self, best_cost: float) -> bool:
        if self._inner(best_cost):
            return True
        self._count += 1
        if best_cost < INFEASIBLE_COST:
            return False
        too_long = self._give_up_at is not None and self._clock() > self._give_up_at
        return too_long or (self._iterations is not None and self._count > self._iterations)
