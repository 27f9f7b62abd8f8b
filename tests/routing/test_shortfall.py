"""A fleet too small: the required bins left because the crews were full, and the crews that would serve them."""

from __future__ import annotations

from binroute.routing import Bin, Depot, Limits, TimeWindow, check_solution, fleet_shortfall, solve

from .helpers import make_problem, make_vehicle


def _day(shift_end: int):
    """Forty bins in a row east of two depots; one lorry at each, working until ``shift_end``."""
    points = [(0, 0), (-50, 0), *[(100 + 50 * i, 0) for i in range(40)]]
    bins = [Bin(f"b{i}", i + 2, (1,), service_s=60) for i in range(40)]
    fleet = [
        make_vehicle("east", cap=(100,), depot=0, shift=TimeWindow(0, shift_end)),
        make_vehicle("west", cap=(100,), depot=1, shift=TimeWindow(0, shift_end)),
    ]
    return make_problem(points, bins, fleet, depots=[Depot("E", 0), Depot("W", 1)])


def test_no_shortfall_when_every_required_bin_is_served():
    """A fleet with time to spare leaves nothing, so there is nothing to say."""
    problem = _day(100_000)
    solution = solve(problem, limits=Limits(solution_limit=50))
    assert check_solution(problem, solution).ok and not solution.unserved
    assert fleet_shortfall(problem, solution) is None


def test_bins_left_by_full_crews_are_counted_with_the_crews_to_add():
    """Short shifts leave bins; the estimate names the stream, a lorry like today's and the nearest depot."""
    problem = _day(1_500)
    solution = solve(problem, limits=Limits(solution_limit=50))
    assert check_solution(problem, solution).ok
    left = [u.bin_id for u in solution.unserved if u.required]
    short = fleet_shortfall(problem, solution)
    assert short is not None and left
    assert set(short.bins) <= set(left) and short.bins
    (extra,) = short.extra
    assert extra.stream == "general" and extra.depot == "E" and extra.like_vehicle == "east"
    assert extra.crews >= 1 and extra.bins == len(short.bins)
    assert "crews are full" in short.message() and "like east from E" in short.message()
