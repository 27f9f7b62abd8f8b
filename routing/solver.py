"""``solve(problem) -> Solution``: the one entry point to every engine."""

from __future__ import annotations

from .limits import Limits, SolveParams
from .ortools_engine import solve_ortools
from .problem import Problem
from .solution import Solution


def solve(problem: Problem, *, limits: Limits | None = None, params: SolveParams | None = None) -> Solution:
    """Plan routes for ``problem``.

    Parameters
    ----------
    problem
        The validated problem.
    limits
        When to stop (defaults to a time limit that scales with size).
    params
        Engine and search settings.

    Returns
    -------
    Solution
        Routes per vehicle (unused vehicles included, depot to depot), the bins
        left unserved with a reason, the objective, status and runtime.

    Raises
    ------
    InfeasibleProblem
        When no plan at all satisfies the vehicles' shifts and depot hours.
    """
    limits = limits or Limits()
    params = params or SolveParams()
    return solve_ortools(problem, limits=limits, params=params)
