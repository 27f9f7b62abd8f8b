"""``solve(problem) -> Solution``: the one entry point to every engine.

Engines:

* ``ortools``: OR-Tools' routing library with guided local search; expresses
  every constraint binroute knows.
* ``pyvrp``: PyVRP's iterated local search; much better routes, but no driver
  breaks, lift or daily load limits, or workload balance.
* ``auto`` (default): PyVRP when it can express the whole problem; otherwise
  the combination: PyVRP finds routes with each shift shortened by its
  break, then OR-Tools reads them as a warm start (trimming any that break a
  constraint PyVRP did not know), places the breaks and polishes with the
  full constraint set. With a time limit of at least
  :data:`PARALLEL_MIN_S` seconds two seeds run at once, one per core, each
  through the whole pipeline (PyVRP alone, or PyVRP then OR-Tools), and the
  better plan is kept: no core idles while OR-Tools polishes. Each core
  works in rounds sized by the number of bins, from a new seed each round.
  When vehicles tip and have daily load or lift limits, every second round
  of the second core has PyVRP keep the day's totals exact and place the
  tips afterwards; other rounds keep the tips in the search and ignore the
  totals.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .limits import Limits, SolveParams, default_time_limit
from .ortools_engine import WarmStartRejected, solve_ortools
from .problem import Problem
from .pyvrp_engine import search, search_from_scratch, search_on, solution_from_plans, solve_pyvrp, unsupported
from .solution import BIN, Solution

#: Share of the time limit the combined mode gives PyVRP (the rest is OR-Tools').
PYVRP_SHARE = 0.7
#: Shortest time limit for which a second search in a helper process pays for its start-up.
PARALLEL_MIN_S = 5.0
#: How long past the time limit to wait for the helper before dropping its result:
#: this share of the limit, but at least :data:`HELPER_GRACE_MIN_S` (start-up, model building).
HELPER_GRACE_SHARE = 0.2
HELPER_GRACE_MIN_S = 5.0
#: Length of one round of the combination (PyVRP, then OR-Tools), per bin.
#: PyVRP settles on a 100-bin day within a few seconds and OR-Tools' polish
#: within a few more, after which a longer search rarely leaves its basin; a
#: budget of several rounds is better spent restarting from new seeds
#: (measured on Kim's 102-stop day: 15-s rounds from six seeds ended between
#: 149.3 and 156.4 miles, and more time on one seed did not move it).
ROUND_S_PER_BIN = 0.15
#: Shortest round of the combination.
ROUND_MIN_S = 10.0


def _on_two_cores(limits: Limits, job: str, args: tuple[object, ...], other: tuple[object, ...]) -> list[Any]:
    """Run ``JOBS[job](*args)`` here and, when worth it, ``JOBS[job](*other)`` in a helper process.

    Returns the results that finished (the helper's is dropped if it fails or
    overruns the time limit by more than a grace period).
    """
    if (os.cpu_count() or 1) < 2 or limits.time_limit_s is None or limits.time_limit_s < PARALLEL_MIN_S:
        return [JOBS[job](*args)]
    with tempfile.TemporaryDirectory(prefix="binroute-") as tmp:
        request, answer = Path(tmp) / "job.pickle", Path(tmp) / "answer.pickle"
        request.write_bytes(pickle.dumps((job, other), protocol=pickle.HIGHEST_PROTOCOL))
        helper = subprocess.Popen(
            [sys.executable, "-m", "routing._worker", str(request), str(answer)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        grace = max(HELPER_GRACE_MIN_S, HELPER_GRACE_SHARE * limits.time_limit_s)
        deadline = clock.perf_counter() + limits.time_limit_s + grace
        results = [JOBS[job](*args)]
        try:
            if helper.wait(timeout=max(deadline - clock.perf_counter(), 0.0)) == 0:
                results.append(pickle.loads(answer.read_bytes()))
        except (subprocess.TimeoutExpired, OSError, pickle.UnpicklingError, EOFError):
            helper.kill()
            helper.wait()
    return results


def _combined(
    problem: Problem, limits: Limits, params: SolveParams, missing: list[str], whole_day: bool = False
) -> Solution:
    """PyVRP with breaks relaxed, then OR-Tools from its routes (or our own scheduling); one core.

    ``whole_day`` picks PyVRP's formulation for daily limits with tips (see
    :func:`~routing.pyvrp_engine.to_pyvrp`).
    """
    began = clock.perf_counter()
    first, second = _split(limits, len(problem.bins))
    found = search_from_scratch(problem, first, params.seed, True, whole_day)
    plans = found.plans
    if limits.time_limit_s is not None:
        # Whatever the first phase overran comes out of the second.
        left = limits.time_limit_s - (clock.perf_counter() - began)
        second = Limits(time_limit_s=max(left, 0.5), solution_limit=limits.solution_limit)
    warm = {
        problem.vehicles[v].id: [
            problem.bins[ref].id if kind == BIN else problem.facilities[ref].id for kind, ref in stops
        ]
        for v, stops, _ in plans
    }
    try:
        polished: Solution | None = solve_ortools(
            problem,
            limits=second,
            params=dataclasses.replace(params, warm_start=warm, engine="ortools"),
            count_building=True,
            cold_after_warm=False,
        )
    except WarmStartRejected:
        # OR-Tools could not restore the routes (it sometimes cannot place breaks in
        # a given order, or on a large day within its time): our scheduling instead.
        polished = None
        if limits.time_limit_s is not None:
            # OR-Tools gave up early: PyVRP searches on with what is left, bar
            # a little for scheduling the routes.
            left = limits.time_limit_s * (1 - FIT_RESERVE_SHARE) - (clock.perf_counter() - began)
            if left >= 1.0:
                plans = search_on(problem, found, Limits(time_limit_s=left), params.seed).plans
    fitted = solution_from_plans(
        problem,
        plans,
        engine="pyvrp+schedule",
        runtime_s=0.0,
        objective=0.0,
        fit_rules=True,
        details={"combined_for": missing, "seed": params.seed, "whole_day": whole_day},
    )
    best = fitted
    if polished is not None:
        details = dict(polished.details, combined_for=missing, seed=params.seed, whole_day=whole_day)
        polished = dataclasses.replace(polished, engine="pyvrp+ortools", details=details)
        if _rank(problem, polished) <= _rank(problem, fitted):
            best = polished
    return _with_spare_lorries(problem, best, limits, params.seed)


#: Share of the time limit kept for scheduling PyVRP's routes when OR-Tools gives up.
FIT_RESERVE_SHARE = 0.05
#: Share of the time limit the spare-lorry round may take (at least a second).
SPARE_SHARE = 0.05


def _with_spare_lorries(problem: Problem, solution: Solution, limits: Limits, seed: int) -> Solution:
    """Give required bins the plan left behind to lorries it does not use.

    Cutting routes to fit breaks and daily limits can leave bins behind on a
    large day while lorries stand idle; a short PyVRP round on just those
    bins and lorries, scheduled with the breaks, collects what it can.
    """
    left = {u.bin_id for u in solution.unserved if u.required}
    idle = {r.vehicle_id for r in solution.routes if not r.used}
    if not left or not idle:
        return solution
    sub = dataclasses.replace(
        problem,
        bins=tuple(b for b in problem.bins if b.id in left),
        vehicles=tuple(v for v in problem.vehicles if v.id in idle),
    )
    budget = Limits(
        time_limit_s=None if limits.time_limit_s is None else max(1.0, SPARE_SHARE * limits.time_limit_s),
        solution_limit=limits.solution_limit if limits.time_limit_s is None else None,
    )
    _, plans = search(sub, budget, seed, True)
    extra = solution_from_plans(sub, plans, engine="", runtime_s=0.0, objective=0.0, fit_rules=True)
    placed = set(extra.served())
    if not placed:
        return solution
    new_routes = {r.vehicle_id: r for r in extra.routes if r.used}
    routes = tuple(new_routes.get(r.vehicle_id, r) for r in solution.routes)
    unserved = tuple(u for u in solution.unserved if u.bin_id not in placed)
    details = dict(solution.details, spare_lorries=len(new_routes), bins_on_spare_lorries=len(placed))
    return dataclasses.replace(solution, routes=routes, unserved=unserved, details=details)


def _restarts(
    problem: Problem, limits: Limits, params: SolveParams, missing: list[str], whole_day: bool = False
) -> Solution:
    """:func:`_combined` in rounds of :data:`ROUND_S_PER_BIN` seconds per bin, a new seed each; the best plan wins.

    Seeds step by two from ``params.seed``, so the two cores (seeds ``s`` and
    ``s + 1``) never repeat each other's rounds. With ``whole_day`` every
    second round uses that formulation.
    """
    if limits.time_limit_s is None:
        return _combined(problem, limits, params, missing)  # one round: the usual formulation
    round_s = max(ROUND_MIN_S, ROUND_S_PER_BIN * len(problem.bins))
    rounds = max(1, int(limits.time_limit_s // round_s))
    began = clock.perf_counter()
    best: Solution | None = None
    for k in range(rounds):
        left = limits.time_limit_s - (clock.perf_counter() - began)
        if best is not None and left < ROUND_MIN_S / 2:
            break
        share = Limits(time_limit_s=max(left / (rounds - k), 0.5), solution_limit=limits.solution_limit)
        seed = params.seed + 2 * k
        # The whole-day formulation is the rougher one (tips planned afterwards):
        # every other round, never the only one.
        found = _combined(problem, share, dataclasses.replace(params, seed=seed), missing, whole_day and k % 2 == 1)
        found = dataclasses.replace(found, details=dict(found.details, round=k + 1, rounds=rounds))
        if best is None or _rank(problem, found) < _rank(problem, best):
            best = found
    assert best is not None
    return best


#: What the helper process can be asked to run (see :mod:`routing._worker`).
JOBS: dict[str, Callable[..., Any]] = {"search": search, "combined": _restarts}


def _split(limits: Limits, n_bins: int) -> tuple[Limits, Limits]:
    if limits.time_limit_s is None and limits.solution_limit is not None:
        return limits, limits
    total = limits.time_limit_s if limits.time_limit_s is not None else default_time_limit(n_bins)
    first = max(total * PYVRP_SHARE, 0.1)
    return (
        Limits(time_limit_s=first, solution_limit=limits.solution_limit),
        Limits(time_limit_s=max(total - first, 0.5), solution_limit=limits.solution_limit),
    )


def solve(problem: Problem, *, limits: Limits | None = None, params: SolveParams | None = None) -> Solution:
    """Plan routes for ``problem``.

    Parameters
    ----------
    problem
        The validated problem.
    limits
        When to stop (defaults to a time limit that scales with size).
    params
        Engine and search settings (``engine`` is ``"auto"`` unless set).

    Returns
    -------
    Solution
        Routes per vehicle (unused vehicles included, depot to depot), the bins
        left unserved with a reason, the objective, status and runtime.

    Raises
    ------
    InfeasibleProblem
        When no plan at all satisfies the vehicles' shifts and depot hours.
    ProblemError
        When ``engine="pyvrp"`` is asked for constraints it cannot express.
    """
    limits = limits or Limits()
    params = params or SolveParams()
    if params.engine == "ortools":
        return solve_ortools(problem, limits=limits, params=params)
    if params.engine == "pyvrp":
        return solve_pyvrp(problem, limits=limits, params=params)
    began = clock.perf_counter()
    missing = unsupported(problem)
    seed, other = params.seed, params.seed + 1
    if not missing:
        searches = _on_two_cores(limits, "search", (problem, limits, seed, False), (problem, limits, other, False))
        cost, plans = min(searches, key=lambda found: found[0])
        return solution_from_plans(
            problem, plans, engine="pyvrp", runtime_s=clock.perf_counter() - began, objective=cost
        )
    # PyVRP cannot hold a day's total across tips; it has two ways to come close,
    # each wrong in a different direction: with daily limits, the second core tries both.
    day_limits = problem.tips and any(
        v.max_load_per_day is not None or v.max_lifts is not None for v in problem.vehicles
    )
    mine = (problem, limits, params, missing)
    theirs = (problem, limits, dataclasses.replace(params, seed=other), missing, day_limits)
    best = min(_on_two_cores(limits, "combined", mine, theirs), key=lambda found: _rank(problem, found))
    return dataclasses.replace(best, runtime_s=clock.perf_counter() - began)


def _rank(problem: Problem, solution: Solution) -> tuple[int, float]:
    """Compare plans: fewer required bins left first, then lower cost."""
    vehicles = {v.id: v for v in problem.vehicles}
    cost = sum(
        r.distance * vehicles[r.vehicle_id].cost_per_distance
        + vehicles[r.vehicle_id].fixed_cost
        + r.duration_s / 3600 * vehicles[r.vehicle_id].cost_per_hour
        for r in solution.routes
        if r.used
    )
    prizes = sum(b.prize for b in problem.bins if not b.required and b.id in {u.bin_id for u in solution.unserved})
    return sum(u.required for u in solution.unserved), cost + prizes
