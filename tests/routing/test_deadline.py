"""Stopping rules: one deadline per solve, and the criteria PyVRP's search calls."""

from __future__ import annotations

import pickle
import time

import pytest

from binroute.routing.deadline import (
    BACKSTOP_FACTOR,
    INFEASIBLE_COST,
    ITERATIONS_PER_SOLUTION,
    AnyOf,
    Budget,
    Deadline,
    GiveUp,
    MaxIterations,
    NoImprovement,
    StopAt,
    criterion_for,
)
from binroute.routing.limits import Limits, default_time_limit


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_down_and_passes():
    """Time left shrinks with the clock, never below zero, and the deadline passes at its instant."""
    clock = FakeClock()
    deadline = Deadline.after(10, clock=clock)
    assert deadline.left(clock=clock) == 10 and deadline.total_s == 10
    clock.now += 4
    assert deadline.left(clock=clock) == 6 and not deadline.passed(clock=clock)
    clock.now += 7
    assert deadline.left(clock=clock) == 0 and deadline.passed(clock=clock)


def test_share_of_a_deadline_is_a_share_of_the_time_left():
    """A first stage of 70% ends 70% of the way to the deadline, counted from now."""
    clock = FakeClock()
    deadline = Deadline.after(10, clock=clock)
    clock.now += 2
    first = deadline.share(0.7, clock=clock)
    assert first.at == pytest.approx(clock.now + 0.7 * 8) and first.total_s == pytest.approx(5.6)


@pytest.mark.parametrize(("seconds", "fraction"), [(-1, 0.5), (1, 0.0), (1, 1.5)])
def test_bad_deadlines_are_refused(seconds, fraction):
    """Negative seconds and fractions outside (0, 1] are errors, not silent nonsense."""
    with pytest.raises(ValueError):
        Deadline.after(seconds).share(fraction)


def test_budget_from_limits():
    """A time limit is the deadline; a solution limit alone is untimed with a backstop; neither scales with size."""
    clock = FakeClock()
    timed = Budget.from_limits(Limits(time_limit_s=30, solution_limit=5), 200, clock=clock)
    assert timed.timed and timed.deadline.total_s == 30 and timed.solution_limit == 5
    exact = Budget.from_limits(Limits(solution_limit=5), 200, clock=clock)
    assert not exact.timed and exact.deadline.total_s == BACKSTOP_FACTOR * default_time_limit(200)
    assert exact.iterations == 5 * ITERATIONS_PER_SOLUTION
    default = Budget.from_limits(Limits(), 200, clock=clock)
    assert default.timed and default.deadline.total_s == default_time_limit(200) and default.iterations is None


def test_budget_share_and_until_never_extend_the_deadline():
    """A stage may stop earlier than the solve, never later; an untimed budget is not cut."""
    clock = FakeClock()
    budget = Budget(Deadline.after(10, clock=clock))
    assert budget.until(Deadline.after(20, clock=clock)).deadline == budget.deadline
    assert budget.until(Deadline.after(3, clock=clock)).deadline.total_s == 3
    assert budget.share(0.5, clock=clock).deadline.at == 105
    exact = Budget(Deadline.after(10, clock=clock), solution_limit=3, timed=False)
    assert exact.share(0.5) is exact


def test_deadline_keeps_its_instant_when_pickled():
    """A deadline sent to the helper process means the same instant there, not a new count of seconds."""
    deadline = Deadline.after(60)
    time.sleep(0.05)
    copy = pickle.loads(pickle.dumps(deadline))
    assert copy.at == pytest.approx(deadline.at, abs=0.01) and copy.total_s == 60


def test_criteria_stop_on_time_and_on_iterations():
    """StopAt follows the deadline; MaxIterations counts calls; AnyOf counts every criterion every call."""
    clock = FakeClock()
    at = StopAt(Deadline.after(5, clock=clock), clock=clock)
    assert not at(0)
    clock.now += 5
    assert at(0)
    three = MaxIterations(3)
    assert [three(0) for _ in range(4)] == [False, False, False, True]
    clock.now = 0
    both = AnyOf([StopAt(Deadline.after(5, clock=clock), clock=clock), MaxIterations(2)])
    assert [both(0) for _ in range(3)] == [False, False, True]


def test_no_improvement_counts_calls_since_the_best_cost_last_fell():
    """NoImprovement stops after that many calls in a row without a lower cost; a lower cost starts the count again."""
    stall = NoImprovement(3)
    assert [stall(c) for c in (10, 10, 9, 9, 9)] == [False, False, False, False, False]
    assert stall(9)
    with_patience = criterion_for(Budget(Deadline.after(60)), patience=2)
    assert [with_patience(5) for _ in range(3)] == [False, False, True]
    with pytest.raises(ValueError, match="iterations"):
        NoImprovement(0)


def test_untimed_budget_keeps_its_backstop_for_pyvrp_too():
    """A solution-limit run stops at its backstop deadline even if the iterations are not used up."""
    clock = FakeClock()
    exact = Budget.from_limits(Limits(solution_limit=1000), 10, clock=clock)
    stop = criterion_for(exact, clock=clock)
    assert not stop(0)
    clock.now += exact.deadline.total_s
    assert stop(0)


def test_give_up_by_time_only_while_infeasible():
    """A timed strict search gives up after its share of the time only while it has no feasible plan."""
    clock = FakeClock()
    budget = Budget(Deadline.after(100, clock=clock))
    stop = GiveUp(budget, 0.25, clock=clock)
    clock.now += 26
    assert stop(INFEASIBLE_COST)
    patient = GiveUp(Budget(Deadline.after(100, clock=clock)), 0.25, clock=clock)
    clock.now += 26
    assert not patient(1000)
    clock.now += 75
    assert patient(1000)
