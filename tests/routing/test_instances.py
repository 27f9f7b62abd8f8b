"""Benchmark readers and the vrplib / kim commands, on tiny hand-made files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from binroute.routing import Limits, ProblemError, check_solution, solve
from binroute.routing.instances import FEET_PER_MILE, read_instance, read_kim, read_solomon, read_vrplib


def test_vrplib_reader_and_optimum():
    """A 6-customer VRPLIB file solves to the enumerated optimum with rounded distances."""
    inst = read_vrplib("tests/data/tiny.vrp")
    assert inst.name == "tiny-n7" and inst.customer_ids == ("1", "2", "3", "4", "5", "6")
    solution = solve(inst.problem, limits=Limits(solution_limit=500))
    assert check_solution(inst.problem, solution, require_all=True).ok
    points = [(0, 0), (10, 0), (10, 10), (0, 10), (-10, 0), (-10, -10), (0, -10)]
    # Enumerate every assignment to three vehicles on the rounded Euclidean matrix.
    import itertools

    import numpy as np

    d = np.rint(np.hypot(*(np.array(points)[:, None] - np.array(points)[None]).transpose(2, 0, 1)))

    def tour(group):
        if not group:
            return 0
        return min(
            d[0, p[0]] + sum(d[a, b] for a, b in itertools.pairwise(p)) + d[p[-1], 0]
            for p in itertools.permutations(group)
        )

    best = min(
        sum(tour([c for c, v in zip(range(1, 7), assign, strict=True) if v == k]) for k in range(3))
        for assign in itertools.product(range(3), repeat=6)
        if all(sum(4 for v in assign if v == k) <= 10 for k in range(3))
    )
    assert solution.distance == best


def test_unlimited_fleet_is_enough_for_a_tight_packing():
    """Demands 6,6,6,6 on capacity 10: 3 lorries by volume, but no two loads share one."""
    from binroute.routing.instances import _fleet_size

    assert _fleet_size([6, 6, 6, 6], 10) == 4 + 3
    assert _fleet_size([1] * 100, 10) == 10 + 3
    assert _fleet_size([5] * 200, 10) == 100 + 10


def test_solomon_reader_truncates_tenths():
    """Distances are kept in tenths, truncated; windows and service scale with them."""
    inst = read_solomon("tests/data/tiny_solomon.txt")
    m = inst.problem.matrices["default"]
    assert inst.scale == 10 and m.distance[0, 1] == 50 and m.distance[1, 2] == 50
    assert inst.problem.bins[1].window.start_s == 200 and inst.problem.bins[1].service_s == 50
    solution = solve(inst.problem, limits=Limits(solution_limit=200))
    assert check_solution(inst.problem, solution, require_all=True).ok


def test_kim_reader():
    """The Kim format: depot hours, landfill, lunch, route capacity, Manhattan time at the stated speed."""
    inst = read_kim("tests/data/tiny_kim.txt")
    p = inst.problem
    assert [f.id for f in p.facilities] == ["1"] and p.facilities[0].service_s == 1200
    assert p.depots[0].window.start_s == 6 * 3600 and p.depots[0].window.end_s == 16 * 3600
    assert p.matrices["default"].time_s[0, 2] == 120  # one mile at 30 mph
    v = p.vehicles[0]
    assert v.capacity == (10000,) and v.max_load_per_day == (15000,) and v.break_.duration_s == 3600
    assert p.bins[2].window.start_s == 10 * 3600


def test_kim_solution_is_feasible_with_lunch():
    """Route capacity (150 yd a day) forces two vehicles; each takes its lunch in the window."""
    inst = read_kim("tests/data/tiny_kim.txt")
    solution = solve(inst.problem, limits=Limits(solution_limit=50))
    assert check_solution(inst.problem, solution, require_all=True).ok
    assert solution.vehicles_used == 2
    for route in solution.routes:
        if route.used and route.break_ is not None:
            assert 11 * 3600 <= route.break_.start_s <= 12 * 3600


@pytest.mark.parametrize("name", ["nope.vrp", "nope.txt"])
def test_missing_instance(name):
    with pytest.raises(ProblemError, match="not found"):
        read_instance(name)


@pytest.mark.slow
def test_vrplib_cli_json():
    """`binroute vrplib --json` prints instance, cost, routes (file numbering) and runtime."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "binroute.api.cli",
            "vrplib",
            "tests/data/tiny.vrp",
            "--solution-limit",
            "200",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(run.stdout)
    assert out["instance"] == "tiny-n7"
    assert sorted(c for r in out["routes"] for c in r) == [1, 2, 3, 4, 5, 6]
    assert isinstance(out["cost"], int) and out["runtime_s"] >= 0


@pytest.mark.slow
def test_kim_cli_json():
    """`binroute kim --json` lists visits with arrival times, disposal visits and the lunch start."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "binroute.api.cli",
            "kim",
            "tests/data/tiny_kim.txt",
            "--solution-limit",
            "50",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(run.stdout)
    assert out["vehicles"] == 2 and out["distance_miles"] > 0
    ids = [v["id"] for r in out["routes"] for v in r if "id" in v]
    assert sorted(i for i in ids if i != "1") == ["2", "3", "4", "5"]
    assert all([v for v in r if "id" in v][-1]["id"] == "1" for r in out["routes"])  # tip before going home
    assert all(any("lunch_start_s" in v for v in r) for r in out["routes"])
    assert FEET_PER_MILE == 5280.0
