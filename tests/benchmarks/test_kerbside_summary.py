"""The kerbside benchmark's summary: mean km per model over the same seeds, and the turn-aware overhead."""

from __future__ import annotations

from benchmarks.kerbside import km_over_nodes


def test_means_over_seeds_and_overhead():
    rows = [
        {"network": "A", "model": "nodes", "seed": 0, "km": 100.0},
        {"network": "A", "model": "turns", "seed": 0, "km": 115.0},
        {"network": "A", "model": "nodes", "seed": 1, "km": 110.0},
        {"network": "A", "model": "turns", "seed": 1, "km": 116.0},
        {"network": "B", "model": "nodes", "seed": 0, "km": 50.0},  # its turn-aware plan failed: no summary
    ]
    assert km_over_nodes(rows) == [
        {"network": "A", "seeds": 2, "nodes_km": 105.0, "turns_km": 115.5, "km_over_nodes_pct": 10.0}
    ]


def test_turns_free_overhead_when_run():
    rows = [
        {"network": "A", "model": "nodes", "seed": 0, "km": 100.0},
        {"network": "A", "model": "turns", "seed": 0, "km": 120.0},
        {"network": "A", "model": "turns-free", "seed": 0, "km": 108.0},
    ]
    (row,) = km_over_nodes(rows)
    assert row["km_over_nodes_pct"] == 20.0 and row["free_km"] == 108.0 and row["free_over_nodes_pct"] == 8.0
