"""Road-network benchmark: graph build (OSM and cache), matrix speed vs networkx, peak memory.

    python -m benchmarks.matrix [--sizes 100 500 1000 2000] [--city 224] [--baseline-sources 40]

Matrices are built for random stops on the Helsinki sample, on a generated
city of ``city × city`` intersections (50,176 nodes by default) and on the
real Milan extract in ``../shared/osm`` when present (© OpenStreetMap
contributors, ODbL), with today's node-based model and with the turn-aware
model (:mod:`binroute.geo.turns`: one place per allowed direction of each stop, turn
restrictions, no U-turns but at dead ends and turning places), by one
Dijkstra per place and by the contraction hierarchy (:mod:`binroute.geo.paths.ch`; its
build, once per network, is reported apart; the two must agree exactly),
and as a plan gets them (``method="auto"`` on a fresh turn graph: the
hierarchy when it is cheap enough to build, else Dijkstra).
The networkx baseline is single-source Dijkstra from each stop; on large
graphs it is timed on ``--baseline-sources`` stops and scaled linearly to all of them
(the runs are independent, so the scaling is exact up to noise).
Results go to ``benchmarks/results/matrix.{csv,json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import networkx as nx
import numpy as np

from binroute.geo import (
    VehicleProfile,
    core_edges,
    hierarchy_file,
    kerb_required,
    load_network,
    routing_graph,
    snap_points,
    stop_places,
    travel_matrices,
    turn_graph,
    turn_matrices,
)

from .common import RESULTS, ROOT, SHARED, peak_rss_mb, table, write_results
from .gen_city import write_city


def _timed(func, *args, **kwargs):
    began = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - began


def _baseline(graph: nx.DiGraph, sources: list[int]) -> float:
    began = time.perf_counter()
    for s in sources:
        nx.single_source_dijkstra_path_length(graph, s, weight="travel_time")
    return time.perf_counter() - began


def bench_network(
    name: str, path: Path, sizes: list[int], baseline_sources: int, rows: list[dict[str, object]]
) -> None:
    cache = list(path.parent.glob(path.name + ".*.binroute-cache"))
    for c in cache:
        c.unlink()
    net, build_s = _timed(load_network, path)
    _, cached_s = _timed(load_network, path)
    print(f"{name}: {net.n_nodes} nodes, {net.n_edges} edges; build {build_s:.2f} s, from cache {cached_s:.3f} s")
    rg = routing_graph(net, VehicleProfile())
    simple = nx.DiGraph()
    for u, v, t in zip(net.edge_u.tolist(), net.edge_v.tolist(), rg.edge_time.tolist(), strict=True):
        if np.isfinite(t) and (not simple.has_edge(u, v) or simple[u][v]["travel_time"] > t):
            simple.add_edge(u, v, travel_time=t)
    tg, turn_graph_s = _timed(turn_graph, rg)
    core = core_edges(tg)
    print(f"  turn graph: {len(tg.t_from)} transitions, {tg.banned} banned, {turn_graph_s:.2f} s")
    rng = np.random.default_rng(0)
    x0, x1 = net.lon.min(), net.lon.max()
    y0, y1 = net.lat.min(), net.lat.max()
    for n in sizes:
        lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            snapped = snap_points(net, lon, lat)
        (time_m, _), matrix_s = _timed(travel_matrices, rg, snapped)
        # Today's node-based searches before the bucket queue (scipy's heap): the baseline the goal names.
        (heap_m, _), heap_s = _timed(travel_matrices, rg, snapped, kernel="heap")
        if not np.array_equal(heap_m, time_m):
            raise AssertionError(f"{name}, {n} stops: the bucket queue's matrices differ from the heap's")
        # The turn-aware model on the same points (snapped to the part that turns keep connected).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kerb_snapped = snap_points(net, lon, lat, allowed=core)
        places = stop_places(
            kerb_snapped,
            directed=np.ones(n, dtype=bool),
            kerb=kerb_required(net, kerb_snapped, ["auto"] * n),
        ).places
        (turn_m, turn_d), turn_s = _timed(turn_matrices, tg, places, method="dijkstra")
        # A city's first plan of this size: nothing on disk, method "auto" builds the hierarchy or gives up.
        kept = hierarchy_file(tg)
        for stale in (kept, kept.with_name(kept.name + ".gave-up")) if kept is not None else ():
            stale.unlink(missing_ok=True)
        (first_m, _), first_s = _timed(turn_matrices, turn_graph(rg), places)
        if not np.array_equal(first_m, turn_m):
            raise AssertionError(f"{name}, {n} stops: a first job by method auto differs from Dijkstra")
        # The same by the contraction hierarchy: built once per network (timed apart), then queried.
        ch_build_s = 0.0
        if tg.store.hierarchy is None:
            _, ch_build_s = _timed(lambda: tg.hierarchy)
        (ch_m, ch_d), ch_s = _timed(turn_matrices, tg, places, method="ch")
        if not (np.array_equal(ch_m, turn_m) and np.array_equal(ch_d, turn_d)):
            raise AssertionError(f"{name}, {n} stops: the hierarchy's matrices differ from Dijkstra's")
        # Every later plan: a fresh turn graph, method "auto" (the hierarchy from disk, else Dijkstra).
        (auto_m, _), auto_s = _timed(turn_matrices, turn_graph(rg), places)
        if not np.array_equal(auto_m, turn_m):
            raise AssertionError(f"{name}, {n} stops: method auto differs from Dijkstra")
        k = min(n, baseline_sources)
        sources = list(dict.fromkeys(int(x) for x in net.edge_v[snapped.edge[:k]]))
        base_s = _baseline(simple, sources) * n / max(len(sources), 1)
        rows.append(
            {
                "network": name,
                "nodes": net.n_nodes,
                "stops": n,
                "matrix_s": round(matrix_s, 3),
                "node_heap_s": round(heap_s, 3),
                "networkx_s": round(base_s, 2),
                "speedup": round(base_s / matrix_s, 1),
                "build_osm_s": round(build_s, 2),
                "build_cache_s": round(cached_s, 3),
                "cache_speedup": round(build_s / max(cached_s, 1e-6), 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "unreachable_pairs": int(np.isinf(time_m).sum()),
                "turn_places": places.n_places,
                "turn_matrix_s": round(turn_s, 3),
                "turn_vs_node": round(turn_s / matrix_s, 2),
                "turn_vs_node_heap": round(turn_s / heap_s, 2),
                "turn_ch_build_s": round(ch_build_s, 2),
                "turn_ch_matrix_s": round(ch_s, 3),
                "turn_ch_vs_node": round(ch_s / matrix_s, 2),
                "turn_first_s": round(first_s, 3),
                "turn_first_vs_node_heap": round(first_s / heap_s, 2),
                "turn_auto_s": round(auto_s, 3),
                "turn_auto_vs_node": round(auto_s / matrix_s, 2),
                "turn_auto_vs_node_heap": round(auto_s / heap_s, 2),
                "turn_unreachable_pairs": int(np.isinf(turn_m).sum()),
            }
        )
        print(rows[-1], flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000, 2000])
    parser.add_argument("--city", type=int, default=224)
    parser.add_argument("--baseline-sources", type=int, default=40)
    args = parser.parse_args(argv)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="binroute-bench-") as tmp:
        sample = Path(tmp) / "helsinki.osm.pbf"
        sample.write_bytes((ROOT / "sample_data" / "helsinki" / "network.osm.pbf").read_bytes())
        bench_network("helsinki sample", sample, args.sizes, args.baseline_sources, rows)
        city = write_city(Path(tmp) / "city.osm", args.city)
        bench_network(f"generated city {args.city}x{args.city}", city, args.sizes, args.baseline_sources, rows)
        milan = SHARED.parent / "osm" / "milan_italy_small.osm.pbf"
        if milan.is_file():  # © OpenStreetMap contributors, ODbL
            copy = Path(tmp) / milan.name
            copy.write_bytes(milan.read_bytes())
            bench_network("Milan (OSM)", copy, args.sizes, args.baseline_sources, rows)
        else:
            print(f"skipping Milan: {milan} not found")
    write_results("matrix", rows, {"sizes": args.sizes, "city": args.city, "baseline_sources": args.baseline_sources})
    cols = [
        "network",
        "nodes",
        "stops",
        "matrix_s",
        "node_heap_s",
        "networkx_s",
        "speedup",
        "build_osm_s",
        "build_cache_s",
        "cache_speedup",
        "peak_rss_mb",
        "turn_places",
        "turn_matrix_s",
        "turn_vs_node",
        "turn_vs_node_heap",
        "turn_ch_build_s",
        "turn_ch_matrix_s",
        "turn_ch_vs_node",
        "turn_first_s",
        "turn_first_vs_node_heap",
        "turn_auto_s",
        "turn_auto_vs_node",
        "turn_auto_vs_node_heap",
    ]
    text = table(rows, cols)
    (RESULTS / "matrix.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
