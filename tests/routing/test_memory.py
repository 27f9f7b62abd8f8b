"""Memory on big days: int32 matrices with a guarded conversion, matrices shared with the helper process."""

from __future__ import annotations

import numpy as np
import pytest

from binroute import _processes
from binroute.routing import Bin, Limits, Matrix, ProblemError, check_solution
from binroute.routing.deadline import Budget
from binroute.routing.engines.pyvrp import NEIGHBOURS_MAX, NEIGHBOURS_MIN, num_neighbours, to_pyvrp
from binroute.routing.solver import JOBS

from .helpers import make_problem, make_vehicle


def test_matrices_are_int32_and_int32_input_is_not_copied():
    """Integer input becomes int32; int32 input is kept, not copied."""
    t = np.array([[0, 5], [7, 0]], dtype=np.int64)
    m = Matrix(t, t)
    assert m.time_s.dtype == np.int32 and m.distance.dtype == np.int32
    same = np.array([[0, 1], [1, 0]], dtype=np.int32)
    assert Matrix(same, same).time_s is same


@pytest.mark.parametrize(
    ("which", "value", "message"),
    [
        ("time_s", 2**31, r"matrix time_s: entry \[0, 1\] = 2147483648 does not fit in 32 bits"),
        ("distance", 3 * 10**10, r"matrix distance: entry \[0, 1\] = 30000000000 does not fit"),
        ("distance", -(2**31) - 1, r"matrix distance: entry \[0, 1\] = -2147483649 does not fit"),
        ("time_s", -5, r"matrix time_s: has negative entries"),
    ],
)
def test_int32_overflow_is_an_error_not_a_wrap(which, value, message):
    """An entry beyond int32 raises a ProblemError naming the matrix and the entry (never wraps round)."""
    ok = np.array([[0, 1], [1, 0]], dtype=np.int64)
    bad = ok.copy()
    bad[0, 1] = value
    arrays = {"time_s": ok, "distance": ok, which: bad}
    with pytest.raises(ProblemError, match=message):
        Matrix(arrays["time_s"], arrays["distance"])


def test_float_matrices_round_to_int32_with_unreachable():
    """``inf`` and anything beyond UNREACHABLE become UNREACHABLE; NaN is an error."""
    t = np.array([[0.0, 1.6], [np.inf, 0.0]])
    d = np.array([[0.0, 3e12], [2.4, 0.0]])
    m = Matrix.from_float(t, d)
    assert m.time_s.tolist() == [[0, 2], [Matrix.UNREACHABLE, 0]]
    assert m.distance.tolist() == [[0, Matrix.UNREACHABLE], [2, 0]]
    assert m.largest_reachable("distance") == 2
    with pytest.raises(ProblemError, match="matrix time_s: has NaN"):
        Matrix.from_float(np.array([[0.0, np.nan], [1.0, 0.0]]), d)


def test_neighbourhood_shrinks_with_the_day():
    """PyVRP's default neighbourhood on small days, fewer neighbours per client on big ones."""
    assert num_neighbours(100) == NEIGHBOURS_MAX
    assert NEIGHBOURS_MIN < num_neighbours(2000) < NEIGHBOURS_MAX
    assert num_neighbours(100_000) == NEIGHBOURS_MIN


def _grid_problem(n_bins: int = 40):
    rng = np.random.default_rng(3)
    points = [(0, 0), *map(tuple, rng.integers(0, 500, size=(n_bins, 2)))]
    bins = [Bin(f"b{i}", i, (1,), service_s=5) for i in range(1, n_bins + 1)]
    return make_problem(
        points, bins, [make_vehicle("v1", cap=(15,)), make_vehicle("v2", cap=(15,)), make_vehicle("v3", cap=(15,))]
    )


def test_pyvrp_gets_only_the_locations_in_use():
    """Locations no depot, site or bin uses are left out of PyVRP's matrices."""
    problem = _grid_problem(10)
    fewer = problem.__class__(problem.matrices, problem.depots, problem.bins[:4], problem.vehicles, problem.facilities)
    assert to_pyvrp(fewer).data.num_locations == 5


@pytest.mark.slow
def test_shared_matrices_give_the_same_plan(tmp_path, monkeypatch):
    """A job handed over with its matrices as mapped files plans exactly as in this process."""
    monkeypatch.setattr(_processes, "SHARE_MIN_BYTES", 0)
    problem = _grid_problem()
    budget = Budget.from_limits(Limits(solution_limit=30, time_limit_s=None), len(problem.bins))
    args = (problem, budget, 7)
    with _processes.start_helper(JOBS["pyvrp"], *args) as helper:
        assert len(list(helper.folder.glob("array*.npy"))) == 2  # time and distance, each once
        assert (helper.folder / "job.pickle").stat().st_size < problem.matrices["default"].time_s.nbytes
        theirs = helper.result(120)
    ours = JOBS["pyvrp"](*args)
    assert [r.bins for r in theirs.routes] == [r.bins for r in ours.routes]
    assert theirs.objective == ours.objective
    assert check_solution(problem, theirs, require_all=True).ok


def test_loaded_matrices_are_mapped_read_only(tmp_path, monkeypatch):
    """The helper's matrices are read-only views of the files, one per array even when referenced twice."""
    monkeypatch.setattr(_processes, "SHARE_MIN_BYTES", 0)
    problem = _grid_problem(5)
    _processes.dump_job(tmp_path / "job.pickle", (problem, problem))
    first, second = _processes.load_job(tmp_path / "job.pickle")
    m = first.matrices["default"]
    assert m.time_s is second.matrices["default"].time_s
    assert not m.time_s.flags.writeable
    assert np.array_equal(m.distance, problem.matrices["default"].distance)
