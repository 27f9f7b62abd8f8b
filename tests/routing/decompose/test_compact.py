"""Compactness judged inside routing: the territory overlap on the problem's positions, and free plans tidied."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from binroute._territory import overlap_share
from binroute.routing import Bin, Limits, ProblemError, SolveParams, TimeWindow, Vehicle, check_solution
from binroute.routing.cost import rank
from binroute.routing.deadline import Budget
from binroute.routing.decompose import compact, priced
from binroute.routing.decompose.borders import mixing
from binroute.routing.schedule import solution_from_plans
from binroute.routing.solver import _best_compact

from ..helpers import make_problem

_LIMITS = Limits(solution_limit=300, time_limit_s=None)


def _two_towns(*, stream_of=lambda i: "general"):
    """A depot at 0; 12 bins in a west town (x -2,000 to -900) and 12 in an east town (x 900 to 2,000), each town
    two rows 200 m apart; two lorries with room for every bin. Positions are the points (metres)."""
    west = [(-2000 + 100 * k, 200 * (k % 2)) for k in range(12)]
    east = [(900 + 100 * k, 200 * (k % 2)) for k in range(12)]
    points = [(0, 0), *west, *east]
    bins = [Bin(f"{'w' if i < 12 else 'e'}{i}", i + 1, (1,), service_s=30, stream=stream_of(i)) for i in range(24)]
    fleet = [
        Vehicle(f"v{k}", 0, 0, (30,), shift=TimeWindow(0, 40_000), streams=frozenset({"general", "paper"}))
        for k in range(2)
    ]
    problem = make_problem(points, bins, fleet)
    return dataclasses.replace(problem, positions=np.array(points, dtype=float))


def _plan(problem, rounds):
    plans = [(v, [("bin", b) for b in bins], 0) for v, bins in enumerate(rounds)]
    return solution_from_plans(problem, plans, engine="test", runtime_s=0.0)


WEST, EAST = list(range(12)), list(range(12, 24))
#: Pairs of neighbours in a row on alternate lorries: each round spans both towns, each bin's nearest on the other.
MIXED = [[k for k in range(24) if (k // 2) % 2 == 0], [k for k in range(24) if (k // 2) % 2 == 1]]
#: Bin 5 (in the west town) on the east lorry, as a free search may leave it.
STRAY = [[b for b in WEST if b != 5], [5, *EAST]]


def _crews(solution) -> dict[str, str]:
    return {b: r.vehicle_id for r in solution.routes for b in r.bins}


def test_overlap_is_zero_for_two_towns_and_high_for_rounds_that_share_both():
    problem = _two_towns()
    apart = _plan(problem, [WEST, EAST])
    mixed = _plan(problem, MIXED)
    assert compact.overlap(problem, apart) == 0.0
    assert compact.overlap(problem, mixed) > 0.9
    # The same figure as the shared measure on the rounds' points (which geo projects lon/lat to).
    pts = problem.positions
    expected = overlap_share([pts[[b + 1 for b in r]] for r in MIXED], compact.TERRITORY_BUFFER_M)
    assert compact.overlap(problem, mixed) == pytest.approx(expected)


def test_rounds_of_different_streams_do_not_overlap():
    """A paper round and a general round over the same streets are two collections, not interleaved rounds."""
    problem = _two_towns(stream_of=lambda i: "paper" if (i // 2) % 2 else "general")
    by_stream = _plan(problem, MIXED)
    assert compact.overlap(problem, by_stream) == 0.0


def test_without_positions_routing_judges_by_nearest_bins():
    problem = dataclasses.replace(_two_towns(), positions=None)
    apart = _plan(problem, [WEST, EAST])
    mixed = _plan(problem, MIXED)
    assert compact.overlap(problem, apart) is None
    assert compact.compact_enough(problem, apart, mixed, 0.3)
    assert not compact.compact_enough(problem, mixed, apart, 0.3)
    assert compact.compact_enough(problem, mixed, apart, 0.3, mix_slack=mixing(problem, mixed))


def test_compact_enough_reads_the_councils_overlap_or_the_districts_own():
    problem = _two_towns()
    apart = _plan(problem, [WEST, EAST])
    # One west bin on the east lorry: its round's territory reaches into the west town.
    stray = _plan(problem, STRAY)
    share = compact.overlap(problem, stray)
    assert 0 < share < 1
    assert compact.compact_enough(problem, stray, apart, max_overlap=share + 0.01)
    assert not compact.compact_enough(problem, stray, apart, max_overlap=share - 0.01)
    # Districts that overlap more than the council's figure set the bar themselves.
    assert compact.compact_enough(problem, stray, stray, max_overlap=0.0)


def test_positions_must_give_one_point_per_location():
    problem = _two_towns()
    with pytest.raises(ProblemError, match="positions"):
        dataclasses.replace(problem, positions=np.zeros((3, 2)))
    with pytest.raises(ProblemError, match="finite"):
        dataclasses.replace(problem, positions=np.full((problem.n_locations, 2), np.nan))


def test_max_overlap_must_be_a_share():
    with pytest.raises(ValueError, match="max_overlap"):
        SolveParams(max_overlap=1.5)


def test_tidy_gives_a_stray_to_the_round_around_it():
    """A west bin served by the east lorry (a free plan's stray) is voted into the west lorry's area; every
    other bin keeps its lorry."""
    problem = _two_towns()
    free = _plan(problem, STRAY)
    owners = compact.tidy_owners(problem, free)
    assert owners[5] == 0
    assert all(owners[b] == 0 for b in WEST) and all(owners[b] == 1 for b in EAST)


def test_tidied_search_hands_the_stray_over_and_the_plan_checks():
    problem = _two_towns()
    free = _plan(problem, STRAY)
    tidied = priced.tidied_search(problem, free, Budget.from_limits(_LIMITS, len(problem.bins)), seed=0)
    assert tidied.details["tidied"]["areas_changed"] == 1
    assert check_solution(problem, tidied).ok and not tidied.unserved
    crews = _crews(tidied)
    assert len({crews[f"w{i}"] for i in WEST}) == 1 and len({crews[f"e{i}"] for i in EAST}) == 1
    assert crews["w0"] != crews["e12"]
    assert compact.overlap(problem, tidied) == 0.0
    assert rank(problem, tidied) < rank(problem, free)


def test_a_cheaper_plan_replaces_the_districts_only_when_compact_enough():
    """Districts that send each lorry zig-zagging through its town, a cheaper plan with one stray: kept at the
    council's 0.3 when its overlap is below it, refused when the council asks for 0."""
    problem = _two_towns()
    zigzag = _plan(
        problem, [[town[k // 2] if k % 2 == 0 else town[-1 - k // 2] for k in range(12)] for town in (WEST, EAST)]
    )
    stray = _plan(problem, STRAY)
    assert rank(problem, stray) < rank(problem, zigzag)
    share = compact.overlap(problem, stray)
    kept = _best_compact(problem, zigzag, zigzag, [stray], max_overlap=max(0.3, share))
    assert _crews(kept) == _crews(stray) and kept.details["free_kept_over_districts"]
    refused = _best_compact(problem, zigzag, zigzag, [stray], max_overlap=0.0)
    assert _crews(refused) == _crews(zigzag) and "free_kept_over_districts" not in refused.details


def test_tidying_stops_at_the_lightest_price_that_makes_the_rounds_compact(monkeypatch):
    """The stray goes home at a quarter of the price; while the rounds overlap too much the price grows to whole."""
    problem = _two_towns()
    free = _plan(problem, STRAY)
    budget = Budget.from_limits(Limits(solution_limit=100), len(problem.bins))
    light = priced.tidied_search(problem, free, budget, seed=0, max_overlap=0.3)
    assert light.details["tidied"]["price_share"] == compact.TIDY_PRICE_WEIGHTS[0]
    monkeypatch.setattr(priced, "overlap", lambda *_: 1.0)  # never compact enough
    heavy = priced.tidied_search(problem, free, budget, seed=0, max_overlap=0.3)
    assert heavy.details["tidied"]["price_share"] == compact.TIDY_PRICE_WEIGHTS[-1]
    assert check_solution(problem, heavy).ok
