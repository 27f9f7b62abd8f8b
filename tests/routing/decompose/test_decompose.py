"""Very large days are solved in districts, one per lorry, and merged; every bin is still served once."""

from __future__ import annotations

import dataclasses
import importlib
from collections import Counter

import numpy as np
import pytest

from binroute.geo.territory import territory_overlap
from binroute.routing import (
    Bin,
    Break,
    Depot,
    Facility,
    Limits,
    SolveParams,
    TimeWindow,
    Vehicle,
    check_solution,
    solve,
)
from binroute.routing.decompose import day as decompose

from ..helpers import make_problem

# The module, not the package's `districts` (its function of the same name, which hides the module
# as an attribute of the package; which one `from ... import districts` gave depended on import order).
districts = importlib.import_module("binroute.routing.decompose.districts")

_POINTS = [(0, 0), (4000, 4000), (2000, 2000), *map(tuple, np.random.default_rng(11).integers(0, 4000, size=(240, 2)))]


def _city(breaks: bool = False):
    """Two depots, a tip, 240 bins scattered on a 4 km square; lorries with room to spare."""
    points = _POINTS
    n_bins = len(points) - 3
    bins = [Bin(f"b{i}", i + 3, (1,), service_s=20) for i in range(n_bins)]
    brk = Break(3_000, 20_000, 1_800) if breaks else None
    fleet = [Vehicle(f"v{k}", k % 2, k % 2, (25,), shift=TimeWindow(0, 30_000), break_=brk) for k in range(8)]
    sites = [Facility("tip", 2, frozenset({"general"}), service_s=300)]
    return make_problem(points, bins, fleet, depots=[Depot("north", 0), Depot("south", 1)], facilities=sites)


def _overlap(problem, groups) -> float:
    """Territory overlap (:func:`.territory_overlap`) of groups of bins, on the test's metre grid."""
    at = {b.id: _POINTS[b.location] for b in problem.bins}
    xy = [np.array([at[b] for b in group], dtype=float) for group in groups]
    return territory_overlap([pyproj_lonlat(g) for g in xy], crs="EPSG:32633")


def pyproj_lonlat(xy: np.ndarray) -> np.ndarray:
    """Metres of the test grid as lon/lat near the origin of UTM zone 33N's grid."""
    import pyproj

    to_lonlat = pyproj.Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(500_000 + xy[:, 0], 5_000_000 + xy[:, 1])
    return np.column_stack([lon, lat])


def test_districts_cover_every_bin_once_one_per_lorry_with_balanced_work():
    """Each bin is in one district, each lorry has at most one, and no district has much more than its share."""
    problem = _city()
    found = districts.districts(problem)
    assert sorted(b for d in found for b in d.bins) == list(range(len(problem.bins)))
    lorries = [d.vehicle for d in found]
    assert len(set(lorries)) == len(lorries)
    assert 2 <= len(found) <= len(problem.vehicles)
    work = districts.bin_work(problem, list(range(len(problem.bins))), problem.vehicles[0])
    shares = [work[list(d.bins)].sum() for d in found]
    assert max(shares) <= districts.SLACK * work.sum() / len(found) + 1e-6


def test_districts_are_compact():
    """Districts barely overlap (convex hulls of their bins)."""
    problem = _city()
    found = districts.districts(problem)
    assert _overlap(problem, [[problem.bins[b].id for b in d.bins] for d in found]) <= 0.15


def test_a_part_holds_only_its_locations_and_maps_them_back():
    """A district's problem has matrices of its own locations only, equal to the day's entries there."""
    problem = _city()
    day = problem.matrices["default"]
    bins = [5, 17, 40]
    alt = dataclasses.replace(problem.bins[17], alternatives=(problem.bins[90].location,))
    problem = dataclasses.replace(problem, bins=tuple(alt if i == 17 else b for i, b in enumerate(problem.bins)))
    part = decompose.restricted(problem, bins, [3])
    sub = part.problem
    assert sub.n_locations == 3 + 4  # two depots, a tip; three bins, one with a second location
    assert np.array_equal(sub.matrices["default"].time_s, day.time_s[np.ix_(part.locations, part.locations)])
    assert [b.id for b in sub.bins] == ["b5", "b17", "b40"] and sub.vehicles == (problem.vehicles[3],)
    for b, original in zip(sub.bins, bins, strict=True):
        assert [int(part.locations[loc]) for loc in b.locations] == list(problem.bins[original].locations)
    assert [int(part.locations[d.location]) for d in sub.depots] == [d.location for d in problem.depots]


def test_balanced_labels_move_the_border_not_outliers():
    """Two centres on a line, one with most bins nearby: the border moves, each district stays an interval."""
    x = np.arange(100)
    centres = np.array([10, 90])
    cost = np.abs(x[:, None] - centres[None, :]) * 2
    cost[:, 1] += 50  # the second centre is dearer to reach: unbalanced by cost alone
    labels = districts.balanced_labels(cost, np.ones(100), room=55.0)
    assert np.bincount(labels).max() <= 55
    assert np.all(np.diff(labels) >= 0)  # one interval each: 0...0 1...1


def test_lorries_are_matched_to_districts_by_depot():
    """Bins in two far corners and a lorry at each corner's depot: each lorry gets the corner at its depot."""
    rng = np.random.default_rng(3)
    near = [tuple(c + rng.integers(0, 400, size=2)) for c in ((0, 0), (3600, 3600)) for _ in range(30)]
    points = [(0, 0), (4000, 4000), (2000, 2000), *near]
    bins = [Bin(f"b{i}", i + 3, (1,), service_s=300) for i in range(60)]
    fleet = [Vehicle(f"v{k}", k, k, (100,), shift=TimeWindow(0, 20_000)) for k in (1, 0)]  # south lorry first
    sites = [Facility("tip", 2, frozenset({"general"}), service_s=300)]
    problem = make_problem(points, bins, fleet, depots=[Depot("north", 0), Depot("south", 1)], facilities=sites)
    found = districts.districts(problem)
    assert len(found) == 2
    for d in found:
        corner = 0 if max(b for b in d.bins) < 30 else 1
        assert set(d.bins) == set(range(30 * corner, 30 * corner + 30))
        assert problem.vehicles[d.vehicle].start_depot == corner


@pytest.mark.slow
@pytest.mark.parametrize(
    ("limits", "breaks"),
    [(Limits(time_limit_s=8.0), False), (Limits(solution_limit=40, time_limit_s=None), True)],
    ids=["two-cores", "deterministic-with-breaks"],
)
def test_big_day_is_decomposed_and_serves_every_bin_once(monkeypatch, limits, breaks):
    """Above the threshold the day is split into districts, merged, every bin served once, the rounds compact."""
    monkeypatch.setattr(decompose, "DECOMPOSE_MIN_BINS", 100)
    problem = _city(breaks=breaks)
    solution = solve(problem, limits=limits, params=SolveParams(seed=0))
    assert solution.details["districts"] == len(districts.districts(problem))
    counts = Counter(solution.served())
    assert set(counts) == {b.id for b in problem.bins}
    assert set(counts.values()) == {1}
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
    assert _overlap(problem, [r.bins for r in solution.routes if r.used]) <= 0.3  # the rounds are districts


def test_bins_a_district_cannot_fit_go_to_other_lorries(monkeypatch):
    """Districts too big for a lorry's day leave bins; the search across borders gives them to lorries with room."""
    monkeypatch.setattr(decompose, "DECOMPOSE_MIN_BINS", 100)
    monkeypatch.setattr(districts, "FILL", 3.0)  # far too few districts for the work
    problem = _city()
    assert len(districts.districts(problem)) < len(problem.vehicles) // 2
    solution = solve(problem, limits=Limits(solution_limit=3, time_limit_s=None), params=SolveParams(seed=0))
    assert solution.details.get("across_borders") is True
    assert sorted(solution.served()) == sorted(b.id for b in problem.bins)
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)


def _district_lorries(points, fleet, depots, n_bins, service_s=600):
    """Districts of a day with bins at ``points[len(depots) + 1:]``, a tip at ``points[len(depots)]``."""
    bins = [Bin(f"b{i}", i + len(depots) + 1, (1,), service_s=service_s) for i in range(n_bins)]
    sites = [Facility("tip", len(depots), frozenset({"general"}), service_s=300)]
    problem = make_problem(points, bins, fleet, depots=depots, facilities=sites)
    return problem, districts.districts(problem)


def test_a_lorry_without_a_break_gets_the_district_before_one_with():
    """One district's work and two lorries at one depot: the lorry whose crew takes no break drives it."""
    rng = np.random.default_rng(5)
    points = [(0, 0), (500, 500), *map(tuple, 1000 + rng.integers(0, 400, size=(20, 2)))]
    fleet = [
        Vehicle("with-break", 0, 0, (100,), shift=TimeWindow(0, 30_000), break_=Break(10_000, 14_000, 1_800)),
        Vehicle("no-break", 0, 0, (100,), shift=TimeWindow(0, 30_000)),
    ]
    problem, found = _district_lorries(points, fleet, [Depot("D", 0)], 20)
    assert [problem.vehicles[d.vehicle].id for d in found] == ["no-break"]
