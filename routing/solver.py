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
  :data:`PARALLEL_MIN_S` seconds both cores work: PyVRP alone runs two seeds
  at once; the combination runs beside OR-Tools alone (a portfolio: on small
  days OR-Tools' own search sometimes edges it out). The better plan is kept
  (fewest required bins left, then lowest cost).
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
from .ortools_engine import solve_ortools
from .problem import Problem
from .pyvrp_engine import search, solution_from_plans, solve_pyvrp, unsupported
from .solution import BIN, Solution

#: Share of the time limit the combined mode gives PyVRP (the rest is OR-Tools').
PYVRP_SHARE = 0.7
#: Shortest time limit for which a second search in a helper process pays for its start-up.
PARALLEL_MIN_S = 5.0
#: How long past the time limit to wait for the helper before dropping its result:
#: this share of the limit, but at least :data:`HELPER_GRACE_MIN_S` (start-up, model building).
HELPER_GRACE_SHARE = 0.2
HELPER_GRACE_MIN_S = 5.0


Job = tuple[str, tuple[object, ...]]


def _on_two_cores(limits: Limits, mine: Job, theirs: Job) -> list[Any]:
    """Run job ``mine`` here and, when worth it, job ``theirs`` in a helper process.

    A job is a name in :data:`JOBS` and its arguments. Returns the results
    that finished, ours first (the helper's is dropped if it fails or overruns
    the time limit by more than a grace period).
    """
    if (os.cpu_count() or 1) < 2 or limits.time_limit_s is None or limits.time_limit_s < PARALLEL_MIN_S:
        return [JOBS[mine[0]](*mine[1])]
    with tempfile.TemporaryDirectory(prefix="binroute-") as tmp:
        request, answer = Path(tmp) / "job.pickle", Path(tmp) / "answer.pickle"
        request.write_bytes(pickle.dumps(theirs, protocol=pickle.HIGHEST_PROTOCOL))
        helper = subprocess.Popen(
            [sys.executable, "-m", "routing._worker", str(request), str(answer)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        grace = max(HELPER_GRACE_MIN_S, HELPER_GRACE_SHARE * limits.time_limit_s)
        deadline = clock.perf_counter() + limits.time_limit_s + grace
        results = [JOBS[mine[0]](*mine[1])]
        try:
            if helper.wait(timeout=max(deadline - clock.perf_counter(), 0.0)) == 0:
                results.append(pickle.loads(answer.read_bytes()))
        except (subprocess.TimeoutExpired, OSError, pickle.UnpicklingError, EOFError):
            helper.kill()
            helper.wait()
    return results


def _combined(problem: Problem, limits: Limits, params: SolveParams, missing: list[str]) -> Solution:
    """PyVRP with breaks relaxed, then OR-Tools from its routes (or our own scheduling); one core."""
    began = clock.perf_counter()
    first, second = _split(limits, len(problem.bins))
    _, plans = search(problem, first, params.seed, True)
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
    polished = solve_ortools(
        problem, limits=second, params=dataclasses.replace(params, warm_start=warm, engine="ortools")
    )
    details = dict(polished.details, combined_for=missing, seed=params.seed)
    best = dataclasses.replace(polished, engine="pyvrp+ortools", details=details)
    if not polished.details.get("warm_start_used"):
        # OR-Tools could not restore the routes (it sometimes cannot place breaks in
        # a given order): schedule PyVRP's routes ourselves, breaks included.
        fitted = solution_from_plans(
            problem,
            plans,
            engine="pyvrp+schedule",
            runtime_s=0.0,
            objective=0.0,
            fit_rules=True,
            details={"combined_for": missing, "seed": params.seed},
        )
        if _rank(problem, fitted) < _rank(problem, polished):
            best = fitted
    return best


def _ortools_alone(problem: Problem, limits: Limits, params: SolveParams) -> Solution:
    """OR-Tools from its own first solution, the other half of ``auto``'s portfolio."""
    return solve_ortools(problem, limits=limits, params=dataclasses.replace(params, engine="ortools"))


#: What the helper process can be asked to run (see :mod:`routing._worker`).
JOBS: dict[str, Callable[..., Any]] = {"search": search, "combined": _combined, "ortools": _ortools_alone}


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
    if not missing:
        searches = _on_two_cores(
            limits,
            ("search", (problem, limits, params.seed, False)),
            ("search", (problem, limits, params.seed + 1, False)),
        )
        cost, plans = min(searches, key=lambda found: found[0])
        return solution_from_plans(
            problem, plans, engine="pyvrp", runtime_s=clock.perf_counter() - began, objective=cost
        )
    # A portfolio: the combination here, OR-Tools alone on the other core (on small
    # days its guided local search from its own start can edge out the combination).
    plans_found = _on_two_cores(
        limits, ("combined", (problem, limits, params, missing)), ("ortools", (problem, limits, params))
    )
    best = min(plans_found, key=lambda found: _rank(problem, found))
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
