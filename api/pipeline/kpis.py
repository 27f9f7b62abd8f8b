"""What a planned day costs and uses, per crew and in total: the council's figures.

Per vehicle: hours paid and worked (utilisation), km, litres of diesel or
kWh, kg CO2, lifts, tonnes and cost (:func:`binroute.routing.cost.route_cost`, the
one plan cost); totals are the sums, so per-vehicle figures add up to them.
``plan.json``, the map page and ``binroute simulate`` all read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from binroute.routing import Problem, Route, Solution, Vehicle, overtime_hours, route_cost

from .scenario import FleetIn, VehicleIn

#: The figures summed over vehicles into the totals, with their rounding.
SUMMED = {
    "km": 3,
    "hours": 3,
    "paid_hours": 3,
    "overtime_hours": 3,
    "fuel_l": 2,
    "kwh": 2,
    "kg_co2": 2,
    "lifts": 0,
    "tonnes": 3,
    "cost": 2,
}


def vehicle_kpis(vehicle: VehicleIn, veh: Vehicle, route: Route, kg: float) -> dict[str, Any]:
    """One vehicle's day: hours paid (the paid shift, more with overtime) and worked, km, energy, CO2, cost.

    Parameters
    ----------
    vehicle
        The vehicle as ``fleet.json`` gives it (fuel, energy and CO2 per km).
    veh
        The same vehicle in the routing problem (costs, paid shift).
    route
        Its route.
    kg
        The weight it collects.
    """
    used = route.used
    worked = route.duration_s / 3600
    paid = max((veh.paid_duration_s or 0) / 3600, worked) if used else 0.0
    km = route.distance / 1000
    energy = km * vehicle.energy_km
    return {
        "km": round(km, 3),
        "hours": round(worked, 3),
        "paid_hours": round(paid, 3),
        "overtime_hours": round(overtime_hours(veh, route), 3),
        "utilisation": round(worked / paid, 3) if paid else None,
        "fuel": vehicle.fuel,
        "fuel_l": round(energy if vehicle.fuel == "diesel" else 0.0, 2),
        "kwh": round(energy if vehicle.fuel == "electric" else 0.0, 2),
        "kg_co2": round(km * vehicle.co2_km, 2),
        "lifts": len(route.bins),
        "tonnes": round(kg / 1000, 3),
        "cost": round(route_cost(veh, route), 2),
    }


def plan_kpis(
    fleet: FleetIn, problem: Problem, solution: Solution, kg_by_vehicle: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """:func:`vehicle_kpis` for every vehicle of ``solution``, by vehicle id."""
    fleet_vehicles = {v.id: v for v in fleet.vehicles}
    vehicles = {v.id: v for v in problem.vehicles}
    return {
        r.vehicle_id: vehicle_kpis(
            fleet_vehicles[r.vehicle_id], vehicles[r.vehicle_id], r, kg_by_vehicle.get(r.vehicle_id, 0.0)
        )
        for r in solution.routes
    }


def total_kpis(per_vehicle: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Crews used and the sums of :data:`SUMMED` over the used vehicles, with utilisation = hours / paid hours."""
    used = [v for v in per_vehicle if v.get("lifts") or v.get("hours")]
    out: dict[str, Any] = {"crews_used": len(used)}
    for key, digits in SUMMED.items():
        total = sum(v[key] for v in used)
        out[key] = round(total, digits) if digits else int(total)
    out["utilisation"] = round(out["hours"] / out["paid_hours"], 3) if out["paid_hours"] else None
    return out
