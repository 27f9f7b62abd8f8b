"""Reversing manoeuvres, U-turns at turning places and walk-outs: where a crew turns round or walks.

A U-turn where the road ends without a mapped place to turn (reason
``"dead end"``) is a *reversing manoeuvre*: the lorry backs up or makes a
three-point turn, which safety guidance for collection rounds asks to
avoid. One at a ``highway=turning_circle`` or ``turning_loop`` (reason
``"turning place"``) is not. A *walk-out* is a stop where the lorry waits on
the through street while the crew walks a bin out of a dead end and back
(:mod:`binroute.geo.walkouts`). ``plan.json``, the GeoJSON, the route sheets
and the GPX files count and place the three apart; this module builds
those entries from a route's drives and stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .roads import Leg

#: The U-turn reason of a reversing manoeuvre (see the module notes).
REVERSING = "dead end"
#: The U-turn reason of a turn at a mapped turning circle or loop.
TURNING_PLACE = "turning place"
#: The side of a stop served by a walk-out.
WALK_OUT = "walk-out"


def reversing_per_leg(drives: Sequence[Leg]) -> list[int]:
    """Per drive, how many reversing manoeuvres it makes."""
    return [sum(reason == REVERSING for _, _, reason in leg.u_turns) for leg in drives]


def turn_points(drives: Sequence[Leg], reason: str) -> list[dict[str, float]]:
    """Where the drives make U-turns for ``reason``: ``{"lon", "lat"}`` each, in order."""
    return [{"lon": round(x, 7), "lat": round(y, 7)} for leg in drives for x, y, r in leg.u_turns if r == reason]


def walk_out_entry(sequence: int, bin_id: str, lorry: tuple[float, float], walk_m: float) -> dict[str, Any]:
    """A walk-out in ``plan.json``: the stop, the bin, where the lorry waits, and the metres walked one way."""
    return {"sequence": sequence, "bin_id": bin_id, "lon": round(lorry[0], 7), "lat": round(lorry[1], 7),
            "walk_m": round(walk_m, 1)}  # fmt: skip


def manoeuvre_totals(vehicles: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The plan's totals of reversing manoeuvres, U-turns at turning places and walk-outs."""
    return {
        "reversing": sum(len(v["reversing"]) for v in vehicles),
        "turning_place_u_turns": sum(len(v["turning_place_u_turns"]) for v in vehicles),
        "walk_outs": sum(len(v["walk_outs"]) for v in vehicles),
    }


def u_turn_features(vehicle_id: str, trip: int, drives: Sequence[Leg]) -> list[tuple[float, float, dict[str, Any]]]:
    """GeoJSON points (lon, lat, properties) for the U-turns of one trip: ``kind`` ``"reversing"`` or ``"u_turn"``."""
    return [
        (
            x,
            y,
            {"kind": "reversing" if r == REVERSING else "u_turn", "vehicle_id": vehicle_id, "trip": trip, "reason": r},
        )
        for leg in drives
        for x, y, r in leg.u_turns
    ]
