"""Building the routing ``Problem`` for a day from a scenario, its decisions and its travel matrices."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyproj
from numpy.typing import NDArray

from binroute.routing import Bin, Break, Depot, Facility, Problem, TimeWindow, Vehicle
from binroute.routing.forecast import MUST, Decision, DecisionRules, demand_of

from .roads import Travel, metric_crs
from .scenario import Scenario, parse_hhmm

#: The capacity dimensions of every vehicle and demand, in this order.
DIMENSIONS = ("kg", "litres")
#: A bin's service time without ``service_s`` in bins.csv: this plus so much per litre.
DEFAULT_SERVICE_S = 45.0
SERVICE_S_PER_LITRE = 0.04


def _present(value: Any) -> bool:
    """Whether an optional CSV field was given (not None, NaN or empty)."""
    return value is not None and value == value and value != ""


def build_problem(
    scn: Scenario,
    decisions: dict[str, Decision],
    rules: DecisionRules,
    *,
    chosen: Sequence[int],
    locations: Sequence[int],
    n_fixed: int,
    travel: Travel,
    crs: str | None = None,
) -> Problem:
    """The day's routing problem.

    Parameters
    ----------
    scn
        The scenario (fleet and bins).
    decisions
        Must/may/skip per bin id, with predicted fill and prize.
    rules
        The collect rule (stream densities for demands).
    chosen
        Rows of ``scn.bins`` to route, in location order.
    locations
        Place indices of the chosen points: depots and facilities, then the chosen bins.
    n_fixed
        How many depots and facilities come before the bins.
    travel
        Matrices per vehicle profile, and each point's locations in them (a
        bin's second direction becomes its alternative location).
    crs
        The metric CRS of the problem's positions (:func:`positions`); None:
        the UTM zone of the stops.
    """
    fleet = scn.fleet
    depot_index = {d.id: i for i, d in enumerate(fleet.depots)}
    depots = tuple(
        Depot(d.id, travel.slots[i][0], TimeWindow(parse_hhmm(d.opens), parse_hhmm(d.closes)))
        for i, d in enumerate(fleet.depots)
    )
    facilities = tuple(
        Facility(
            f.id,
            travel.slots[len(fleet.depots) + i][0],
            frozenset(f.streams),
            TimeWindow(parse_hhmm(f.opens), parse_hhmm(f.closes)),
            round(f.tip_minutes * 60),
        )
        for i, f in enumerate(fleet.facilities)
    )
    bins = []
    rows = scn.bins.to_dict("records")
    for k, i in enumerate(chosen):
        row = rows[i]
        dec = decisions[row["bin_id"]]
        fill = dec.fill_pct if not math.isnan(dec.fill_pct) else 100.0
        kg, litres = demand_of(fill, row["capacity_l"], row["stream"], rules)
        service = row.get("service_s")
        if not _present(service):
            service = DEFAULT_SERVICE_S + SERVICE_S_PER_LITRE * row["capacity_l"]
        window = None
        if _present(row.get("tw_start")) and _present(row.get("tw_end")):
            window = TimeWindow(parse_hhmm(row["tw_start"]), parse_hhmm(row["tw_end"]))
        bins.append(
            Bin(
                id=row["bin_id"],
                location=travel.slots[n_fixed + k][0],
                alternatives=tuple(travel.slots[n_fixed + k][1:]),
                demand=(math.ceil(kg), math.ceil(litres)),
                stream=row["stream"],
                service_s=round(service),
                window=window,
                required=dec.decision == MUST,
                prize=dec.prize,
            )
        )
    vehicles = []
    for v in fleet.vehicles:
        brk = None
        if v.break_ is not None:
            brk = Break(parse_hhmm(v.break_.earliest), parse_hhmm(v.break_.latest), round(v.break_.minutes * 60))
        vehicles.append(
            Vehicle(
                id=v.id,
                start_depot=depot_index[v.depot],
                end_depot=depot_index[v.end_depot or v.depot],
                capacity=(int(v.capacity_kg), int(v.capacity_l)),
                profile=travel.profiles[v.id].name,
                streams=frozenset(v.streams),
                shift=TimeWindow(parse_hhmm(v.shift_start), parse_hhmm(v.shift_end)),
                max_duration_s=round(v.max_shift_hours * 3600) if v.max_shift_hours else None,
                break_=brk,
                fixed_cost=v.day_cost,
                cost_per_distance=v.cost_per_km / 1000.0,
                cost_per_hour=v.cost_per_hour,
                paid_duration_s=v.paid_seconds,
                overtime_per_hour=v.overtime_per_hour,
                max_distance=round(v.range_km * 1000) if v.range_km is not None else None,
                max_lifts=v.max_lifts,
                max_load_per_day=(int(v.max_kg_per_day), 10**9) if v.max_kg_per_day else None,
            )
        )
    return Problem(
        matrices=travel.matrices,
        depots=depots,
        bins=tuple(bins),
        vehicles=tuple(vehicles),
        facilities=facilities,
        dimensions=DIMENSIONS,
        balance_weight=fleet.planning.balance_weight,
        positions=positions(travel, crs),
    )


def positions(travel: Travel, crs: str | None = None) -> NDArray[np.float64] | None:
    """Each matrix location's stop in ``crs`` (x, y metres; None: the stops' UTM zone), for judging compactness.

    None when the stops do not match the matrices' locations.
    """
    n = next(iter(travel.matrices.values())).time_s.shape[0]
    points = np.asarray(travel.slot_point, dtype=np.int64)
    if len(points) != n or len(travel.stops.lon) == 0:
        return None
    lon, lat = np.asarray(travel.stops.lon, dtype=float), np.asarray(travel.stops.lat, dtype=float)
    crs = crs or metric_crs(travel, None)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon[points], lat[points])
    xy = np.column_stack([x, y])
    return xy if np.isfinite(xy).all() else None
