"""The turn graph's contraction hierarchy is kept on disk beside the network file (:mod:`.paths.cache`).

A second turn graph of the same network, profile and rules loads it
instead of building; other rules get their own file; a corrupt or
inconsistent file is rebuilt, never a crash; a folder that cannot be
written costs the cache, not the matrices.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import binroute.geo.paths.cache as cache
import binroute.geo.turn_matrix as turn_matrix
import binroute.geo.turns as turns
from binroute.geo import (
    Places,
    TurnRules,
    VehicleProfile,
    hierarchy_file,
    load_network,
    routing_graph,
    turn_graph,
    turn_matrix_rows,
)

from .helpers import grid_xml


def _matrix(tg, places, method):
    n = places.n_places
    out = np.empty((n, n))
    for rows, t, _ in turn_matrix_rows(tg, places, method=method):
        out[rows] = t
    return out


@pytest.fixture
def grid(tmp_path):
    """A 5 × 5 street grid loaded from a file in its own folder, and places on six of its driven edges."""
    net = load_network(grid_xml(tmp_path, size=5), cache=False)
    rg = routing_graph(net, VehicleProfile())
    driven = np.flatnonzero(np.isfinite(rg.edge_time))[:6]
    return rg, Places(edge=driven, t=np.full(6, 0.4), place=np.arange(6), n_places=6)


def _no_build(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the hierarchy was built, not loaded")

    monkeypatch.setattr(cache, "contract_graph", refuse)


def test_second_turn_graph_loads_the_hierarchy_from_disk(grid, monkeypatch):
    """Built once and written atomically (no temporary file left, readable by others); a fresh turn graph loads it
    and answers the same."""
    rg, places = grid
    tg = turn_graph(rg)
    path = hierarchy_file(tg)
    assert path is not None and not path.exists()
    first = _matrix(tg, places, "ch")
    assert path.is_file()
    assert not list(path.parent.glob("*.tmp"))
    assert path.stat().st_mode & 0o777 == 0o644  # readable by others, like the network cache beside it
    _no_build(monkeypatch)
    again = turn_graph(rg)
    np.testing.assert_array_equal(_matrix(again, places, "ch"), first)
    np.testing.assert_array_equal(first, _matrix(again, places, "dijkstra"))


def test_auto_uses_a_hierarchy_on_disk_for_big_jobs(grid, monkeypatch):
    """``auto`` on a fresh turn graph takes the hierarchy on disk even with no work allowed for a build."""
    rg, places = grid
    tg = turn_graph(rg)
    _ = tg.hierarchy
    monkeypatch.setattr(turn_matrix, "CH_MIN_CELLS", 0)
    monkeypatch.setattr(turn_matrix, "CH_WORK_PER_CELL", 0.0)
    _no_build(monkeypatch)
    fresh = turn_graph(rg)
    np.testing.assert_array_equal(_matrix(fresh, places, "auto"), _matrix(fresh, places, "dijkstra"))
    assert fresh.store.hierarchy is not None


def test_other_turn_rules_get_their_own_file(grid):
    """The file is keyed by what the hierarchy is built from: other turn rules, another file."""
    rg, _ = grid
    a = hierarchy_file(turn_graph(rg))
    b = hierarchy_file(turn_graph(rg, TurnRules(u_turns="penalised")))
    c = hierarchy_file(turn_graph(rg))
    assert a is not None and b is not None and a != b and a == c


def _tampered(path):
    """The saved hierarchy with one up arc pointing past the last node."""
    with np.load(path) as data:
        arrays = dict(data)
    arrays["up_to"] = arrays["up_to"].copy()
    arrays["up_to"][0] = int(arrays["n_nodes"]) + 5
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "out_of_range"])
def test_a_corrupt_file_is_rebuilt(grid, damage, caplog):
    """Garbage, a truncated file or an index out of range: a warning, a rebuilt hierarchy, the right answers."""
    rg, places = grid
    tg = turn_graph(rg)
    reference = _matrix(tg, places, "dijkstra")
    _ = tg.hierarchy
    path = hierarchy_file(tg)
    assert path is not None
    if damage == "garbage":
        path.write_bytes(b"not a hierarchy")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    else:
        _tampered(path)
    with caplog.at_level(logging.WARNING, logger="binroute.geo.paths.cache"):
        fresh = turn_graph(rg)
        np.testing.assert_array_equal(_matrix(fresh, places, "ch"), reference)
    assert "ignoring unreadable contraction hierarchy" in caplog.text
    assert cache.load_hierarchy(path) is not None  # rewritten whole


def test_a_folder_that_cannot_be_written_costs_only_the_cache(grid, monkeypatch, caplog):
    """Writing fails (read-only folder): a warning, the matrices all the same, nothing left behind."""
    rg, places = grid

    def read_only(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(cache.tempfile, "mkstemp", read_only)
    tg = turn_graph(rg)
    with caplog.at_level(logging.WARNING, logger="binroute.geo.paths.cache"):
        np.testing.assert_array_equal(_matrix(tg, places, "ch"), _matrix(tg, places, "dijkstra"))
    assert "could not keep the contraction hierarchy" in caplog.text
    path = hierarchy_file(tg)
    assert path is not None and not path.exists()
    assert not list(path.parent.glob("*.tmp"))


def test_a_network_without_a_file_keeps_the_hierarchy_in_memory_only(grid):
    """A network not loaded from a file has no place on disk: the hierarchy lives in the turn graph's store."""
    import dataclasses

    rg, _ = grid
    net = dataclasses.replace(rg.net, source="")
    tg = turn_graph(routing_graph(net, VehicleProfile()))
    assert hierarchy_file(tg) is None
    _ = tg.hierarchy
    assert tg.store.hierarchy is not None


def test_a_build_given_up_is_remembered_on_disk_until_a_bigger_job_may_try_again(grid, monkeypatch):
    rg, _ = grid
    path = hierarchy_file(turn_graph(rg))
    assert path is not None
    assert turns.hierarchy_within(turn_graph(rg), 1) is None  # far too little work allowed: gives up
    marker = path.with_name(path.name + ".gave-up")
    assert marker.read_text().strip() == "1" and not path.exists()
    tries = []
    real = cache.contract_graph
    monkeypatch.setattr(cache, "contract_graph", lambda *a, **k: tries.append(k["work_limit"]) or real(*a, **k))
    fresh = turn_graph(rg)  # another process, a day later: reads the note and does not try again
    assert turns.hierarchy_within(fresh, 1) is None and tries == []
    assert fresh.store.gave_up_at == 1
    assert turns.hierarchy_within(turn_graph(rg), 2) is None and tries == [2]  # a bigger job tries again
    assert marker.read_text().strip() == "2"
    assert turns.hierarchy_within(turn_graph(rg), None) is not None and tries == [2, None]  # no limit: builds
    assert path.exists()


def test_a_garbled_gave_up_note_is_ignored(grid):
    rg, _ = grid
    path = hierarchy_file(turn_graph(rg))
    path.with_name(path.name + ".gave-up").write_text("not a number")
    assert turns.hierarchy_within(turn_graph(rg), 10**9) is not None
