"""Readers for public routing benchmarks, each giving a :class:`Problem`.

* VRPLIB CVRP (``.vrp``, e.g. the Uchoa et al. X set): Euclidean distances
  rounded to the nearest integer, unlimited fleet, cost = distance.
* Solomon VRPTW (``.txt``): Euclidean distances truncated to one decimal
  (the DIMACS convention); the problem works in tenths so that everything
  stays an integer, and :attr:`Instance.scale` converts back.
* Kim, Kim & Sahoo (2006) waste-collection VRPTW: Manhattan distance in feet,
  travel time at the stated speed, disposal trips, a one-hour lunch starting
  11:00–12:00, vehicle and route (per day) capacities and stop limits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ProblemError
from .problem import Bin, Break, Depot, Facility, Matrix, Problem, TimeWindow, Vehicle


@dataclass(frozen=True)
class Instance:
    """A benchmark problem with what is needed to report results in the file's own terms."""

    name: str
    problem: Problem
    customer_ids: tuple[str, ...]  # bin ids as numbered in the file
    scale: float = 1.0  # problem distance units per file distance unit
    kind: str = "cvrp"


def _euclid(xy: np.ndarray) -> np.ndarray:
    diff = xy[:, None, :] - xy[None, :, :]
    return np.sqrt((diff**2).sum(-1))


def _fleet_size(demands: list[int], capacity: int) -> int:
    """Enough vehicles for an unlimited fleet, without swamping the search.

    First-fit decreasing packs the demands into lorries that are known to be
    enough for the load (the ratio of total demand to capacity is not: on
    tightly packed instances such as X-n524-k153 it is two lorries short),
    and a margin of 10% (at least 3) leaves the search room to trade a
    lorry for distance.
    """
    if not capacity:
        return 1
    loads: list[int] = []
    for d in sorted(demands, reverse=True):
        for k, load in enumerate(loads):
            if load + d <= capacity:
                loads[k] += d
                break
        else:
            loads.append(d)
    packed = max(len(loads), 1)
    return packed + max(3, math.ceil(0.1 * packed))


def read_vrplib(path: str | Path) -> Instance:
    """Read a VRPLIB CVRP instance (``EUC_2D`` coordinates)."""
    path = Path(path)
    text = path.read_text()
    spec: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if ":" in line and not line[0].isdigit() and not line.startswith("-"):
            key, _, value = line.partition(":")
            spec[key.strip().upper()] = value.strip().strip('"')
            current = None
        elif line.upper().endswith("_SECTION"):
            current = line.upper()
            sections[current] = []
        elif current is not None:
            sections[current].append(line.split())
    weight_type = spec.get("EDGE_WEIGHT_TYPE", "")
    if weight_type != "EUC_2D":
        raise ProblemError(f"{path}: EDGE_WEIGHT_TYPE {weight_type!r} is not supported (EUC_2D only)")
    try:
        capacity = int(float(spec["CAPACITY"]))
        coords = {int(r[0]): (float(r[1]), float(r[2])) for r in sections["NODE_COORD_SECTION"]}
        demand = {int(r[0]): int(float(r[1])) for r in sections["DEMAND_SECTION"]}
        depots = [int(r[0]) for r in sections.get("DEPOT_SECTION", [["1"]]) if int(r[0]) > 0]
    except (KeyError, ValueError, IndexError) as exc:
        raise ProblemError(f"{path}: not a VRPLIB CVRP file ({exc})") from exc
    ids = sorted(coords)
    depot = depots[0] if depots else ids[0]
    order = [depot] + [i for i in ids if i != depot]
    xy = np.array([coords[i] for i in order])
    dist = np.rint(_euclid(xy)).astype(np.int64)
    bins = tuple(Bin(str(i - 1), k, (demand[i],)) for k, i in enumerate(order) if k > 0)
    n_veh = _fleet_size([b.demand[0] for b in bins], capacity)
    vehicles = tuple(Vehicle(f"v{k}", 0, 0, (capacity,), streams=frozenset({"general"})) for k in range(n_veh))
    problem = Problem({"default": Matrix(dist, dist)}, (Depot("depot", 0),), bins, vehicles, dimensions=("load",))
    # VRPLIB solutions number customers 1..n (node index minus one).
    return Instance(spec.get("NAME", path.stem), problem, tuple(b.id for b in bins), 1.0, "cvrp")


def read_solomon(path: str | Path) -> Instance:
    """Read a Solomon VRPTW instance; distances in tenths, truncated (DIMACS)."""
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    try:
        name = lines[0][0]
        v_row = next(i for i, ln in enumerate(lines) if ln[0].upper() == "NUMBER") + 1
        n_veh, capacity = int(lines[v_row][0]), int(lines[v_row][1])
        c_row = next(i for i, ln in enumerate(lines) if ln[0].upper() == "CUST") + 1
        rows = [[float(x) for x in ln] for ln in lines[c_row:] if ln[0].replace(".", "").isdigit()]
    except (StopIteration, ValueError, IndexError) as exc:
        raise ProblemError(f"{path}: not a Solomon VRPTW file ({exc})") from exc
    data = np.array(rows)
    xy = data[:, 1:3]
    tenths = np.floor(_euclid(xy) * 10 + 1e-7).astype(np.int64)
    scale = 10
    depot_row = data[0]
    depot = Depot("0", 0, TimeWindow(int(depot_row[4] * scale), int(depot_row[5] * scale)))
    bins = tuple(
        Bin(
            str(int(r[0])),
            k,
            (int(r[3]),),
            service_s=int(r[6] * scale),
            window=TimeWindow(int(r[4] * scale), int(r[5] * scale)),
        )
        for k, r in enumerate(data)
        if k > 0
    )
    vehicles = tuple(
        Vehicle(f"v{k}", 0, 0, (capacity,), shift=depot.window, streams=frozenset({"general"})) for k in range(n_veh)
    )
    problem = Problem({"default": Matrix(tenths, tenths)}, (depot,), bins, vehicles)
    return Instance(name, problem, tuple(b.id for b in bins), float(scale), "vrptw")


def _hhmm(value: str) -> int:
    v = int(float(value))
    return (v // 100) * 3600 + (v % 100) * 60


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
YARD_SCALE = 100  # loads in hundredths of a cubic yard
FEET_PER_MILE = 5280.0
KIM_LUNCH = (11 * 3600, 12 * 3600)


def read_kim(path: str | Path, *, vehicles: int | None = None, vehicle_cost: float = 1e6) -> Instance:
    """Read a Kim et al. (2006) waste-collection instance.

    Parameters
    ----------
    vehicles
        Fleet size to offer (default: twice what the daily yardage, stop limit
        or service time alone needs, at least 4); a large ``vehicle_cost`` makes the solver use as few as it can.
    """
    path = Path(path)
    header: list[float] = []
    rows: list[list[float]] = []
    for raw in path.read_text(encoding="latin-1").splitlines():
        parts = raw.replace("\t", " ").split()
        if not parts:
            continue
        if len(header) < 5 and _NUMBER.match(parts[0]) and "//" in raw:
            header.append(float(parts[0]))
        elif _NUMBER.match(parts[0]) and len(parts) >= 8 and len(header) == 5:
            rows.append([float(p) for p in parts[:8]])
    if len(header) != 5 or not rows:
        raise ProblemError(f"{path}: not a Kim et al. waste-collection file")
    cap, route_cap, max_stops, lunch_s, mph = header
    data = np.array(rows)
    xy = data[:, 1:3]
    feet = np.abs(xy[:, None, :] - xy[None, :, :]).sum(-1)
    dist = np.rint(feet).astype(np.int64)
    time = np.rint(feet / FEET_PER_MILE / mph * 3600).astype(np.int64)
    depots, facilities, bins = [], [], []
    for k, r in enumerate(data):
        sid, kind = str(int(r[0])), int(r[7])
        window = TimeWindow(_hhmm(str(r[3])), _hhmm(str(r[4])))
        if kind == 0:
            depots.append(Depot(sid, k, window))
        elif kind == 2:
            facilities.append(Facility(sid, k, frozenset({"general"}), window, int(r[5])))
        else:
            bins.append(Bin(sid, k, (round(r[6] * YARD_SCALE),), service_s=int(r[5]), window=window))
    if len(depots) != 1 or not facilities:
        raise ProblemError(f"{path}: expected one depot and at least one disposal site")
    depot = depots[0]
    total = sum(b.demand[0] for b in bins)
    # Lorries needed by daily yardage, by stops and by working time (service alone).
    working = max(depot.window.end_s - depot.window.start_s - int(lunch_s), 1)
    need = max(
        math.ceil(total / (route_cap * YARD_SCALE)),
        math.ceil(len(bins) / max_stops),
        math.ceil(sum(b.service_s for b in bins) / working),
    )
    n_veh = vehicles or max(4, 2 * need)
    brk = Break(KIM_LUNCH[0], KIM_LUNCH[1], int(lunch_s))
    fleet = tuple(
        Vehicle(
            f"v{k}",
            0,
            0,
            (int(cap * YARD_SCALE),),
            streams=frozenset({"general"}),
            shift=depot.window,
            break_=brk,
            fixed_cost=vehicle_cost,
            max_lifts=int(max_stops),
            max_load_per_day=(int(route_cap * YARD_SCALE),),
        )
        for k in range(n_veh)
    )
    problem = Problem({"default": Matrix(time, dist)}, (depot,), tuple(bins), fleet, tuple(facilities), ("yards",))
    return Instance(path.stem, problem, tuple(b.id for b in bins), 1.0, "kim")


def read_instance(path: str | Path) -> Instance:
    """Read a ``.vrp`` (VRPLIB) or ``.txt`` (Solomon, or Kim when it starts with vehicle data)."""
    path = Path(path)
    if not path.is_file():
        raise ProblemError(f"{path}: file not found")
    if path.suffix.lower() == ".vrp":
        return read_vrplib(path)
    head = path.read_text(encoding="latin-1")[:200]
    return read_kim(path) if "//" in head else read_solomon(path)
