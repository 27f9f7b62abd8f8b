"""Drivable routes: the turn-aware model against the node-based one on the same bins and budget.

    python -m benchmarks.kerbside [--bins 300 [1000 ...]] [--time-limit 60] [--city 224] [--skip-city]
                                  [--placement streets|nodes] [--seeds 0 2 4]
                                  [--models nodes turns turns-free turns-drive-in] [--name kerbside]

For the bundled sample, the real Milan extract in ``../shared/osm`` (when
present; © OpenStreetMap contributors, ODbL) and a generated city, the same
day is planned twice through the real pipeline: ``planning.turns.model`` =
``nodes`` (any turn, a stop left in any direction) and ``turns`` (the
default). Every plan's trips are then audited independently from the OSM
file (:mod:`binroute.geo.audit`): forbidden turns, U-turns per 100 stops and how
many at dead ends or turning places, and bins served from the wrong side
where the plan says the kerb side. Beside the U-turns made, a lower bound
on them (``u_turns_unavoidable``: per trip, the dead-end pockets its bins
lie in, see :func:`binroute.geo.turns.u_turn_pockets`, but for bins with a walk-out) and the pockets holding
bins (the least any plan needs). The Milan and generated days use
``--bins`` random bins (fixed seed) placed along the streets weighted by
length, as bins stand at addresses (``--placement nodes``: near random road
nodes, junctions and dead ends, as before), all due, one depot, one
disposal site and four lorries (``--bins 300 1000``: a Milan day of each
size). Results: ``benchmarks/results/<name>.{csv,json,md}`` (``--name``,
default ``kerbside``).

Reversing (issue #30): ``--models turns-drive-in turns`` plans each day
without walk-outs (``planning.turns.walk_out_m`` = 0: the lorry drives into
every dead end it serves) and with them (the default setting), and counts
from the trips' geometry, independently of the model, the reversing
manoeuvres (U-turns at a dead end without a mapped turning place) and the
U-turns at turning places; every walk-out is checked by
:mod:`binroute.geo.walk_audit` (walk within the setting, no main road
crossed, the lorry on a through street). A last table gives, per day, the
reversing manoeuvres and crew-hours before and after, averaged over the
seeds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from binroute import geo
from binroute.api.pipeline import PlanOptions, load_scenario, plan_scenario
from binroute.api.pipeline.roads import Places, places_of, turn_rules, vehicle_profile
from binroute.api.pipeline.scenario import Scenario
from binroute.geo import u_turn_pockets
from binroute.geo.audit import TurnFacts, arrival_side, forbidden_turns, read_turn_facts, u_turns
from binroute.geo.kerbside import unavoidable_u_turns
from binroute.geo.network import FloatArray
from binroute.geo.walk_audit import WalkOutChecker, walk_out_stops

from .common import RESULTS, ROOT, SHARED, table, write_results
from .gen_city import write_city

DAY = "2026-11-23"


#: How far from the middle of the street a bin stands when placed along streets (m): on the pavement.
KERB_OFFSET_M = 4.0
PLACEMENTS = ("streets", "nodes")


def _along_streets(net: geo.RoadNetwork, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """``n`` points at random positions along the streets (weighted by length; a two-way street counts
    once), each :data:`KERB_OFFSET_M` to a random side: where bins stand, at addresses along a street."""
    twins = net.edge_twin
    streets = np.flatnonzero((twins < 0) | (np.arange(net.n_edges) < twins))
    weight = net.length_m[streets]
    edges = rng.choice(streets, size=n, p=weight / weight.sum())
    lines = net.projected_lines[edges]
    along = rng.uniform(0, 1, n) * shapely.length(lines)
    at = shapely.line_interpolate_point(lines, along)
    ahead = shapely.line_interpolate_point(lines, along + 0.5)
    behind = shapely.line_interpolate_point(lines, np.maximum(along - 0.5, 0))
    dx, dy = shapely.get_x(ahead) - shapely.get_x(behind), shapely.get_y(ahead) - shapely.get_y(behind)
    norm = np.maximum(np.hypot(dx, dy), 1e-9)
    side = rng.choice([-1.0, 1.0], size=n) * KERB_OFFSET_M / norm
    x, y = shapely.get_x(at) - dy * side, shapely.get_y(at) + dx * side
    lon, lat = net.transformer().transform(x, y, direction="INVERSE")
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _scenario(folder: Path, network: Path, n_bins: int, *, placement: str = "streets", seed: int = 0) -> Path:
    """A day on ``network``: ``n_bins`` random bins, all due, one depot, one site, four lorries.

    ``placement``: ``streets`` puts every point at a random position along the streets (see
    :func:`_along_streets`), ``nodes`` near a random road node (junctions and dead ends).
    """
    net = geo.load_network(network)
    rng = np.random.default_rng(seed)
    if placement == "streets":
        lon, lat = _along_streets(net, n_bins + 2, rng)
    else:
        nodes = rng.choice(net.n_nodes, size=n_bins + 2, replace=False)
        lon = net.lon[nodes] + rng.normal(0, 0.0001, len(nodes))
        lat = net.lat[nodes] + rng.normal(0, 0.0001, len(nodes))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(
        network, folder / ("network" + "".join(network.suffixes[-2:] if network.suffix == ".pbf" else [".osm"]))
    )
    rows = ["bin_id,lon,lat,stream,capacity_l"] + [
        f"B{i:05d},{lon[i + 2]:.7f},{lat[i + 2]:.7f},general,240" for i in range(n_bins)
    ]
    (folder / "bins.csv").write_text("\n".join(rows) + "\n")
    readings = ["bin_id,timestamp,fill_pct"] + [f"B{i:05d},2026-11-22T12:00:00Z,95" for i in range(n_bins)]
    (folder / "readings.csv").write_text("\n".join(readings) + "\n")
    vehicle = {"depot": "D", "streams": ["general"], "capacity_kg": 10000, "capacity_l": 22000,
               "shift_start": "06:00", "shift_end": "16:00"}  # fmt: skip
    fleet = {
        "timezone": "UTC",
        "depots": [{"id": "D", "lon": float(lon[0]), "lat": float(lat[0]), "opens": "05:00", "closes": "20:00"}],
        "facilities": [
            {
                "id": "S",
                "lon": float(lon[1]),
                "lat": float(lat[1]),
                "streams": ["general"],
                "opens": "05:00",
                "closes": "20:00",
                "tip_minutes": 15,
            }
        ],
        "vehicles": [{"id": f"V{k}", **vehicle} for k in range(4)],
        "planning": {"max_snap_m": 400},
    }
    (folder / "fleet.json").write_text(json.dumps(fleet, indent=1))
    return folder


#: The plans compared: per name, ``planning.turns`` of the fleet. ``turns-free``: the turn-aware model's
#: legality (restrictions, U-turns only at dead ends and turning places, kerb sides) without the time it
#: prices turns at (``turn_s``, ``cross_traffic_s``): how much of its extra km those times buy.
MODELS: dict[str, dict[str, object]] = {
    "nodes": {"model": "nodes"},
    "turns": {"model": "turns"},
    "turns-free": {"model": "turns", "turn_s": 0, "cross_traffic_s": 0},
    "turns-drive-in": {"model": "turns", "walk_out_m": 0},
}
#: The pair compared for reversing (issue #30): without walk-outs (the lorry drives into every dead end), with.
REVERSING_PAIR = ("turns-drive-in", "turns")


def _with_model(folder: Path, model: str) -> None:
    fleet = json.loads((folder / "fleet.json").read_text())
    fleet.setdefault("planning", {})["turns"] = dict(MODELS[model])
    (folder / "fleet.json").write_text(json.dumps(fleet, indent=1))


def _audit(name: str, folder: Path, network: Path, model: str, time_limit: float, seed: int = 0) -> dict[str, object]:
    _with_model(folder, model)
    scn = load_scenario(folder)
    result = plan_scenario(scn, PlanOptions(date=date.fromisoformat(DAY), time_limit_s=time_limit, seed=seed))
    facts = {
        v.id: read_turn_facts(
            network,
            lorry={"maxweight": v.weight_t, "maxheight": v.height_m, "maxwidth": v.width_m, "maxlength": v.length_m},
        )
        for v in scn.fleet.vehicles
    }
    features = result.geojson["features"]
    trips = [f for f in features if f["properties"]["kind"] == "trip"]
    illegal = at_ends = elsewhere = reversing = 0
    for trip in trips:
        line = np.asarray(trip["geometry"]["coordinates"], dtype=float)
        lorry = facts[trip["properties"]["vehicle_id"]]
        illegal += len(forbidden_turns(lorry, line))
        reasons = [r for _, r in u_turns(lorry, line)]
        at_ends += sum(r in ("dead end", "turning place") for r in reasons)
        elsewhere += sum(r not in ("dead end", "turning place") for r in reasons)
        reversing += sum(r == "dead end" for r in reasons)
    walked, walk_faults = _walk_outs(scn, result.geojson["features"], facts)
    # The side each bin served "from the kerb" stands on as the lorry arrives, from the trip's geometry.
    bins = scn.bins.set_index("bin_id")
    side = turn_rules(scn.fleet).driving_side
    wrong = kerb = 0
    for arrival, bin_id in _arrivals(features):
        kerb += 1
        row = bins.loc[bin_id]
        wrong += arrival_side(arrival, float(row["lon"]), float(row["lat"])) != side
    # A node-based plan may reverse anywhere: the bound is the turn-aware model's.
    turn_aware = MODELS[model]["model"] == "turns"
    bound, pockets = _unavoidable(scn, result.geojson["features"]) if turn_aware else ("", "")
    totals = result.plan["totals"]
    stops = max(int(totals["bins"]), 1)
    return {
        "network": name,
        "model": model,
        "seed": seed,
        "bins": int(totals["bins"]),
        "required_left": len(result.plan["unserved_required"]),
        "lorries": totals["vehicles_used"],
        "cost": totals["cost"],
        "km": totals["km"],
        "hours": totals["hours"],
        "illegal_turns": illegal,
        "u_turns_per_100": round(100 * (at_ends + elsewhere) / stops, 2),
        "u_turns_at_ends": at_ends,
        "u_turns_elsewhere": elsewhere,
        "reversing": reversing,
        "turning_place_u_turns": at_ends - reversing,
        "walk_outs": walked,
        "walk_out_faults": walk_faults,
        "u_turns_unavoidable": bound,
        "pockets": pockets,
        "kerb_checked": kerb,
        "kerb_wrong": wrong,
        "overlap": totals.get("territory_overlap", ""),
        "solve_s": result.plan["timings_s"]["solve"],
        "matrix_s": result.plan["timings_s"]["matrix"],
    }


def _walk_outs(scn: Scenario, features: list[dict[str, Any]], facts: dict[str, TurnFacts]) -> tuple[int, int]:
    """The plan's walk-outs, and how many of them the independent check (:mod:`binroute.geo.walk_audit`) faults."""
    bins = {
        b: (float(x), float(y)) for b, x, y in zip(scn.bins["bin_id"], scn.bins["lon"], scn.bins["lat"], strict=True)
    }
    side = turn_rules(scn.fleet).driving_side
    within = scn.fleet.planning.turns.walk_out_m
    checkers = {vid: WalkOutChecker(f, within_m=within, driving_side=side) for vid, f in facts.items()}
    vehicle_of = {
        f["properties"]["bin_id"]: f["properties"]["vehicle_id"] for f in features if f["properties"]["kind"] == "stop"
    }
    stops = walk_out_stops(features, bins)
    faults = 0
    for stop in stops:
        found = checkers[vehicle_of[stop.bin_id]].check(stop)
        if found:
            faults += 1
            print(f"walk-out fault, bin {stop.bin_id}: {'; '.join(found)}", flush=True)
    return len(stops), faults


def reversing_change(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per network, reversing manoeuvres and crew-hours without walk-outs and with them (means over seeds)."""
    out = []
    before, after = REVERSING_PAIR
    for network in dict.fromkeys(str(r["network"]) for r in rows):
        of = {m: [r for r in rows if r["network"] == network and r["model"] == m] for m in REVERSING_PAIR}
        if not of[before] or len(of[before]) != len(of[after]):
            continue

        def mean(model: str, key: str, of: dict[str, list[dict[str, object]]] = of) -> float:
            return float(np.mean([float(str(r[key])) for r in of[model]]))

        rev_b, rev_a = mean(before, "reversing"), mean(after, "reversing")
        hours_b, hours_a = mean(before, "hours"), mean(after, "hours")
        out.append(
            {
                "network": network,
                "bins": of[after][0]["bins"],
                "seeds": len(of[after]),
                "reversing_before": round(rev_b, 1),
                "reversing_after": round(rev_a, 1),
                "reversing_change_pct": round(100 * (rev_a / rev_b - 1), 1) if rev_b else "",
                "walk_outs": round(mean(after, "walk_outs"), 1),
                "walk_out_faults": sum(int(str(r["walk_out_faults"])) for r in of[after]),
                "turning_place_u_turns_after": round(mean(after, "turning_place_u_turns"), 1),
                "hours_before": round(hours_b, 2),
                "hours_after": round(hours_a, 2),
                "hours_change_pct": round(100 * (hours_a / hours_b - 1), 1),
                "km_before": round(mean(before, "km"), 1),
                "km_after": round(mean(after, "km"), 1),
                "illegal_turns": sum(int(str(r["illegal_turns"])) for r in of[before] + of[after]),
                "u_turns_elsewhere": sum(int(str(r["u_turns_elsewhere"])) for r in of[before] + of[after]),
            }
        )
    return out


@dataclass(frozen=True)
class DayPockets:
    """A scenario's places snapped as the pipeline snaps them, on one lorry profile's turn graph, and its pockets."""

    net: geo.RoadNetwork
    tg: geo.TurnGraph
    places: Places
    snapped: geo.Snapped
    directed: NDArray[np.bool_]
    kerb: NDArray[np.bool_]
    pocket: NDArray[np.int64]

    def stops(self, walk_out_m: float) -> geo.StopPlaces:
        """The stop places with walk-outs of at most ``walk_out_m`` (a bin with a walk-out needs no U-turn)."""
        walks = geo.walk_outs(self.tg, self.snapped, within_m=walk_out_m, directed=self.directed, pocket=self.pocket)
        return geo.stop_places(
            self.snapped,
            directed=self.directed,
            kerb=self.kerb,
            driving_side=self.tg.rules.driving_side,
            length_m=self.net.length_m,
            walk_outs=walks,
        )


def day_pockets(scn: Scenario) -> DayPockets:
    """:class:`DayPockets` of ``scn`` (all lorries here have one profile: the first's)."""
    fleet = scn.fleet
    net = geo.load_network(scn.network)
    rg = geo.routing_graph(net, vehicle_profile(fleet.vehicles[0]))
    tg = geo.turn_graph(rg, turn_rules(fleet))
    places = places_of(scn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plan's notes already name bins far from roads
        snapped = geo.snap_points(
            net,
            places.lon,
            places.lat,
            ids=places.ids,
            allowed=geo.core_edges(tg),
            max_distance_m=fleet.planning.max_snap_m,
        )
    directed = np.arange(len(places.ids)) >= places.n_fixed
    rules = ["either"] * places.n_fixed + [r or "auto" for r in scn.bins.get("side", [None] * len(scn.bins))]
    kerb = geo.kerb_required(net, snapped, rules) & directed
    return DayPockets(net, tg, places, snapped, directed, kerb, u_turn_pockets(tg))


def _unavoidable(scn: Scenario, features: list[dict[str, Any]]) -> tuple[int, int]:
    """A lower bound on the plan's U-turns, and the dead-end pockets holding bins it serves.

    The bound sums, over trips, the pockets (:func:`binroute.geo.turns.u_turn_pockets`)
    the trip's bins lie in, not counting pockets where the trip starts or
    ends: any plan serving the same bins in the same trips makes at least
    that many U-turns. The pocket count is the least any plan needs.
    Snapped as the pipeline snaps them (:func:`day_pockets`).
    """
    day = day_pockets(scn)
    stops, pocket = day.stops(scn.fleet.planning.turns.walk_out_m), day.pocket
    index = {name: i for i, name in enumerate(day.places.ids)}
    trips: dict[tuple[str, int], list[int]] = {}
    ends: dict[tuple[str, int], list[int]] = {}
    for f in features:
        props = f["properties"]
        if props["kind"] == "trip":
            ends[props["vehicle_id"], props["trip"]] = [index[props["from"]], index[props["to"]]]
    for vehicle, trip, bin_id in _trip_bins(features):
        trips.setdefault((vehicle, trip), []).append(index[bin_id])
    bound = sum(unavoidable_u_turns(stops, pocket, points, free=ends.get(key, [])) for key, points in trips.items())
    return bound, unavoidable_u_turns(stops, pocket, [p for points in trips.values() for p in points])


def _trip_bins(features: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    """``(vehicle, trip number, bin)`` for every bin served, in order (a tip ends a trip)."""
    visits = sorted(
        (f["properties"] for f in features if f["properties"]["kind"] in ("stop", "tip")),
        key=lambda props: (props["vehicle_id"], props["sequence"]),
    )
    out = []
    trip, vehicle = 1, None
    for props in visits:
        if props["vehicle_id"] != vehicle:
            vehicle, trip = props["vehicle_id"], 1
        if props["kind"] == "tip":
            trip += 1
        else:
            out.append((vehicle, trip, props["bin_id"]))
    return out


def _arrivals(features: list[dict[str, Any]]) -> list[tuple[NDArray[np.float64], str]]:
    """Per stop served from the kerb side: the trip's geometry up to the stop, and the bin.

    Stops are matched along their trip in sequence order (a trip may pass a
    stop's spot before it serves it, e.g. on its way into a cul-de-sac).
    """
    trips = {
        (f["properties"]["vehicle_id"], f["properties"]["trip"]): np.asarray(f["geometry"]["coordinates"], dtype=float)
        for f in features
        if f["properties"]["kind"] == "trip"
    }
    stops = {
        (f["properties"]["vehicle_id"], f["properties"]["bin_id"]): f
        for f in features
        if f["properties"]["kind"] == "stop"
    }
    out = []
    cursor: dict[tuple[str, int], int] = {}
    for vehicle, trip, bin_id in _trip_bins(features):
        line, stop = trips.get((vehicle, trip)), stops[vehicle, bin_id]
        if line is None:
            continue
        at = cursor.get((vehicle, trip), 0)
        near = np.flatnonzero(np.all(np.abs(line[at:] - stop["geometry"]["coordinates"]) < 1e-6, axis=1))
        if not len(near):
            continue
        cursor[vehicle, trip] = at = at + int(near[0])
        if stop["properties"].get("side") == "kerb" and at > 0:
            out.append((line[: at + 1], bin_id))
    return out


def km_over_nodes(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per network, the mean km of each model over the seeds, and how much more the turn-aware plans drive.

    The means are over the same seeds for every model, so a seed that
    happens to find a short (or long) plan counts on each side. A
    ``turns-free`` model, when run, adds its mean and overhead too.
    """
    out = []
    for network in dict.fromkeys(str(r["network"]) for r in rows):
        km = {
            model: [float(str(r["km"])) for r in rows if r["network"] == network and r["model"] == model]
            for model in MODELS
        }
        if not km["nodes"] or len(km["nodes"]) != len(km["turns"]):
            continue
        nodes, turns = float(np.mean(km["nodes"])), float(np.mean(km["turns"]))
        row: dict[str, object] = {
            "network": network,
            "seeds": len(km["nodes"]),
            "nodes_km": round(nodes, 2),
            "turns_km": round(turns, 2),
            "km_over_nodes_pct": round(100 * (turns / nodes - 1), 1),
        }
        if len(km["turns-free"]) == len(km["nodes"]):
            free = float(np.mean(km["turns-free"]))
            row |= {"free_km": round(free, 2), "free_over_nodes_pct": round(100 * (free / nodes - 1), 1)}
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bins", type=int, nargs="+", default=[300], help="bins per day (Milan: one day per count)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--city", type=int, default=224)
    parser.add_argument("--skip-city", action="store_true")
    parser.add_argument(
        "--placement",
        choices=PLACEMENTS,
        default="streets",
        help="bins at random positions along streets (default) or near random road nodes",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="search seeds to plan each day with (km vary by seed); a plan with seed s also searches "
        "with s + 1 on the second core, so use even seeds (0 2 4) for independent runs",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(MODELS),
        default=["nodes", "turns"],
        help="plans to compare (turns-free: turn-aware legality without the time turns are priced at; "
        "turns-drive-in: no walk-outs, the lorry drives into every dead end)",
    )
    parser.add_argument("--name", default="kerbside", help="results file name under benchmarks/results")
    args = parser.parse_args(argv)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="binroute-kerbside-") as tmp:
        sample = Path(tmp) / "sample"
        shutil.copytree(ROOT / "sample_data" / "helsinki", sample)
        cases = [("Helsinki sample", sample, sample / "network.osm.pbf")]
        milan = SHARED.parent / "osm" / "milan_italy_small.osm.pbf"
        if milan.is_file():
            for n in args.bins:
                day = _scenario(Path(tmp) / f"milan-{n}", milan, n, placement=args.placement)
                cases.append((f"Milan (OSM), {n} bins" if len(args.bins) > 1 else "Milan (OSM)", day, milan))
        else:
            print(f"skipping Milan: {milan} not found")
        if not args.skip_city:
            city = write_city(Path(tmp) / "city.osm", args.city)
            cases.append(
                (
                    f"generated city {args.city}x{args.city}",
                    _scenario(Path(tmp) / "city", city, args.bins[0], placement=args.placement),
                    city,
                )
            )
        for name, folder, network in cases:
            for seed in args.seeds:
                for model in args.models:
                    rows.append(_audit(name, folder, network, model, args.time_limit, seed))
                    print(rows[-1], flush=True)
    meta = {"bins": args.bins, "time_limit_s": args.time_limit, "placement": args.placement, "date": DAY,
            "models": args.models}  # fmt: skip
    write_results(args.name, rows, {**meta, "seeds": args.seeds})
    cols = ["network", "model", "seed", "bins", "required_left", "lorries", "cost", "km", "hours", "illegal_turns",
            "u_turns_per_100", "u_turns_at_ends", "u_turns_elsewhere", "u_turns_unavoidable", "pockets", "kerb_checked",
            "kerb_wrong", "overlap"]  # fmt: skip
    text = (
        table(rows, cols)
        + "\n\n"
        + table(
            km_over_nodes(rows),
            ["network", "seeds", "nodes_km", "turns_km", "km_over_nodes_pct"]
            + (["free_km", "free_over_nodes_pct"] if "turns-free" in args.models else []),
        )
    )
    if all(m in args.models for m in REVERSING_PAIR):
        change = reversing_change(rows)
        text += "\n\n" + table(change, list(change[0]) if change else ["network"])
    (RESULTS / f"{args.name}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
