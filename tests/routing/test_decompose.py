"""Very large days are solved in regions and merged; every bin is still served once."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from routing import (
    Bin,
    Break,
    Depot,
    Facility,
    Limits,
    SolveParams,
    TimeWindow,
    Vehicle,
    check_solution,
    decompose,
    solve,
)

from .conftest import make_problem


def _city(n_bins: int = 240, breaks: bool = False):
    """Two depots, a tip, ``n_bins`` bins scattered on a 4 km square; lorries with room to spare."""
    rng = np.random.default_rng(11)
    points = [(0, 0), (4000, 4000), (2000, 2000), *map(tuple, rng.integers(0, 4000, size=(n_bins, 2)))]
    bins = [Bin(f"b{i}", i + 3, (1,), service_s=20) for i in range(n_bins)]
    brk = Break(3_000, 20_000, 1_800) if breaks else None
    fleet = [Vehicle(f"v{k}", k % 2, k % 2, (25,), shift=TimeWindow(0, 30_000), break_=brk) for k in range(8)]
    sites = [Facility("tip", 2, frozenset({"general"}), service_s=300)]
    return make_problem(points, bins, fleet, depots=[Depot("north", 0), Depot("south", 1)], facilities=sites)


def test_regions_are_compact_and_cover_every_bin():
    """Each bin is in exactly one region; regions are nearer their own bins than others' on average."""
    problem = _city()
    parts = decompose.regions(problem, 4)
    assert sorted(b for part in parts for b in part) == list(range(len(problem.bins)))
    assert len(parts) == 4
    fleets = decompose.assign_vehicles(problem, parts)
    assert sorted(v for f in fleets for v in f) == list(range(len(problem.vehicles)))


@pytest.mark.parametrize(
    ("limits", "breaks"),
    [(Limits(time_limit_s=8.0), False), (Limits(solution_limit=40, time_limit_s=None), True)],
    ids=["two-cores", "deterministic-with-breaks"],
)
def test_big_day_is_decomposed_and_serves_every_bin_once(monkeypatch, limits, breaks):
    """Above the threshold the day is split into regions, merged, and every bin is served exactly once."""
    monkeypatch.setattr(decompose, "DECOMPOSE_MIN_BINS", 100)
    monkeypatch.setattr(decompose, "REGION_BINS", 70)
    problem = _city(breaks=breaks)
    solution = solve(problem, limits=limits, params=SolveParams(seed=0))
    assert solution.details["regions"] == 4
    counts = Counter(solution.served())
    assert set(counts) == {b.id for b in problem.bins}
    assert set(counts.values()) == {1}
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
