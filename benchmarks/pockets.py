"""How few reversing manoeuvres any plan can make: the dead-end pockets a day's bins need, by walk-out setting.

    python -m benchmarks.pockets [--bins 300 1000] [--walk-out-m 0 25 50 100] [--seed 0]

On the Milan days of :mod:`benchmarks.kerbside` (same bins: ``_scenario``
with ``--seed``; © OpenStreetMap contributors, ODbL), every bin snapped as
the pipeline snaps it, and per walk-out setting:

* ``pockets_with_bins``: the dead-end pockets (:func:`binroute.geo.u_turn_pockets`)
  holding a bin, pockets that one bin's places join counting once;
* ``pockets_needing_entry``: those still holding a bin after every bin with
  a walk-out is walked (:func:`binroute.geo.walk_outs`), pockets of the
  depot and the site left out (a lorry inside may serve on its way out).
  Any plan serving every bin enters each at least once, and every entry
  needs a U-turn inside the pocket (the pocket is, by its definition, what
  a lorry cannot leave without turning round);
* ``with_turning_place``: those with a mapped turning place
  (``highway=turning_circle`` / ``turning_loop``) inside, where the U-turn
  is not a reversing manoeuvre;
* ``reversing_bound``: the rest, a lower bound on the reversing manoeuvres
  of any plan serving every bin with that walk-out setting, whatever its
  trips and lorries (one per pocket: a lorry may serve a whole pocket in
  one entry);
* ``cut_ends``: pockets reaching a road end made by the extract's clip
  (no U-turn is allowed there: the road goes on in reality).

Also counted: nodes tagged ``highway=mini_roundabout`` (the model does not
take them as turning places), how many end a road segment in a pocket and
how many are where a lorry reverses at a dead end.
Results: ``benchmarks/results/pockets.{csv,json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from binroute.api.pipeline import load_scenario
from binroute.geo.kerbside import pocket_groups, unavoidable_u_turns
from binroute.geo.turns import U_DEAD_END, U_TURNING_PLACE

from .common import RESULTS, table, write_results
from .kerbside import DayPockets, _scenario, day_pockets
from .rounds import MILAN


def _mini_roundabouts(network: Path) -> list[int]:
    """OSM ids of the nodes tagged ``highway=mini_roundabout`` in ``network``."""
    import osmium

    found: list[int] = []

    class Handler(osmium.SimpleHandler):  # type: ignore[misc]
        def node(self, n: Any) -> None:
            if n.tags.get("highway") == "mini_roundabout":
                found.append(int(n.id))

    Handler().apply_file(str(network))
    return found


def pockets_row(day: DayPockets, walk_out_m: float) -> dict[str, Any]:
    """The counts of the module notes for one day's bins at a walk-out setting."""
    places, pocket, tg, net = day.places, day.pocket, day.tg, day.net
    bins = list(range(places.n_fixed, len(places.ids)))
    fixed = list(range(places.n_fixed))
    stops = day.stops(walk_out_m)
    needing = pocket_groups(stops, pocket, bins, free=fixed)
    turning = np.unique(pocket[tg.t_from[tg.t_kind == U_TURNING_PLACE]])
    turning_set = set(turning[turning >= 0].tolist())
    states = np.flatnonzero(tg.state_edge < net.n_edges)
    cut = net.cut_end[net.edge_v[tg.state_edge[states]]] if len(net.cut_end) else np.zeros(len(states), dtype=bool)
    cut_pockets = set(pocket[states[cut]].tolist()) - {-1}
    with_place = sum(bool(group & turning_set) for group in needing)
    walked = sum(len(stops.of(p)) > len(day.stops(0.0).of(p)) for p in bins) if walk_out_m else 0
    return {
        "bins": len(bins),
        "walk_out_m": walk_out_m,
        "bins_with_walk_out": walked,
        "pockets_with_bins": unavoidable_u_turns(day.stops(0.0), pocket, bins),
        "pockets_needing_entry": len(needing),
        "with_turning_place": with_place,
        "reversing_bound": len(needing) - with_place,
        "cut_ends": sum(bool(group & cut_pockets) for group in needing),
    }


def in_pockets(day: DayPockets, osm_ids: list[int]) -> tuple[int, int]:
    """How many of the nodes ``osm_ids`` end a road segment in a pocket, and how many are where a lorry reverses."""
    net, tg = day.net, day.tg
    nodes = np.flatnonzero(np.isin(net.node_osmid, np.asarray(osm_ids, dtype=np.int64)))
    states = np.flatnonzero(tg.state_edge < net.n_edges)
    ends = net.edge_v[tg.state_edge[states]]
    pocketed = ends[day.pocket[states] >= 0]
    turns = tg.t_from[tg.t_kind == U_DEAD_END]
    reversing = net.edge_v[tg.state_edge[turns[tg.state_edge[turns] < net.n_edges]]]
    return int(np.isin(nodes, pocketed).sum()), int(np.isin(nodes, reversing).sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--walk-out-m", type=float, nargs="+", default=[0.0, 25.0, 50.0, 100.0])
    parser.add_argument("--seed", type=int, default=0, help="the kerbside benchmark's scenario seed")
    args = parser.parse_args(argv)
    if not MILAN.is_file():
        print(f"skipped: {MILAN} not found")
        return 0
    rows = []
    minis: list[int] = []
    inside = at_dead_ends = 0
    with tempfile.TemporaryDirectory(prefix="pockets-") as name:
        for n_bins in args.bins:
            day = day_pockets(load_scenario(_scenario(Path(name) / f"milan{n_bins}", MILAN, n_bins, seed=args.seed)))
            for walk in args.walk_out_m:
                row = {"network": f"milan{n_bins}", **pockets_row(day, walk)}
                print(row, flush=True)
                rows.append(row)
            minis = _mini_roundabouts(MILAN)
            inside, at_dead_ends = in_pockets(day, minis)
    meta = {
        "seed": args.seed,
        "mini_roundabouts": len(minis),
        "mini_roundabouts_in_pockets": inside,
        "mini_roundabouts_at_dead_ends": at_dead_ends,
    }
    write_results("pockets", rows, meta)
    text = table(rows, list(rows[0]))
    minis_text = (
        f"mini_roundabout nodes in the extract: {len(minis)}, ending a road segment in a pocket: {inside}, "
        f"where a lorry reverses at a dead end: {at_dead_ends}"
    )
    (RESULTS / "pockets.md").write_text(f"# Pockets\n\n{text}\n\n{minis_text}\n")
    print(text)
    print(minis_text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
