"""Parse OSM tag values: speeds, weights, lengths and access rules.

Every parser takes the raw tag value (a string, a list of strings after graph
simplification, or ``None``) and returns a float in SI-ish units or ``None``
when the value is absent or not understood.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

MPH = 1.609344

#: Effective default speeds (km/h) by highway type, used where ``maxspeed`` is
#: not tagged. They follow UK-style limits (30 mph in built-up areas, 60 mph on
#: single carriageways, 70 mph on motorways) discounted to what a refuse lorry
#: really averages on that kind of road.
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 96.0,
    "motorway_link": 64.0,
    "trunk": 80.0,
    "trunk_link": 56.0,
    "primary": 56.0,
    "primary_link": 48.0,
    "secondary": 48.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 32.0,
    "unclassified": 32.0,
    "residential": 32.0,
    "road": 32.0,
    "living_street": 10.0,
    "service": 16.0,
}
FALLBACK_SPEED_KPH = 32.0

#: Implicit limits written as ``<country>:<kind>`` (``GB:nsl_single``, ``DE:urban``).
_IMPLICIT_SPEEDS_KPH: dict[str, float] = {
    "nsl_single": 60 * MPH,
    "nsl_dual": 70 * MPH,
    "nsl_restricted": 30 * MPH,
    "motorway": 70 * MPH,
    "urban": 50.0,
    "rural": 80.0,
    "trunk": 100.0,
    "living_street": 20.0,
    "zone20": 20.0,
    "zone30": 30.0,
    "zone:20": 20.0,
    "zone:30": 30.0,
    "bicycle_road": 30.0,
    "school": 30.0,
}
_GB_IMPLICIT = {"urban": 30 * MPH, "rural": 60 * MPH}
_WORD_SPEEDS_KPH = {"walk": 7.0, "living_street": 20.0}
_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"


def _values(raw: object) -> list[str]:
    """Split a tag value (string, list or None) into its ``;``-separated parts."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return []
    items: Iterable[object] = raw if isinstance(raw, list | tuple) else [raw]
    out: list[str] = []
    for item in items:
        out.extend(part.strip() for part in str(item).split(";") if part.strip())
    return out


def _one_speed(value: str) -> float | None:
    text = value.strip().lower()
    if text in ("none", "signals", "variable", "unknown", "no"):
        return None
    if text in _WORD_SPEEDS_KPH:
        return _WORD_SPEEDS_KPH[text]
    if ":" in text:
        country, _, kind = text.partition(":")
        if country in ("gb", "uk") and kind in _GB_IMPLICIT:
            return _GB_IMPLICIT[kind]
        return _IMPLICIT_SPEEDS_KPH.get(kind)
    match = re.fullmatch(_NUMBER + r"\s*(mph|km/h|kmh|kph|knots)?", text)
    if not match:
        return None
    number = float(match.group(1).replace(",", "."))
    unit = match.group(2)
    if unit == "mph":
        number *= MPH
    elif unit == "knots":
        number *= 1.852
    return number if number > 0 else None


def parse_speed_kph(raw: object) -> float | None:
    """Parse an OSM ``maxspeed`` value into km/h.

    Handles plain numbers (km/h), ``mph``, ``knots``, implicit limits such as
    ``GB:nsl_single`` or ``DE:urban``, ``walk``, and several values separated
    by ``;`` or given as a list (the mean is returned, as osmnx does).
    """
    speeds = [s for s in (_one_speed(v) for v in _values(raw)) if s is not None]
    return sum(speeds) / len(speeds) if speeds else None


def _one_weight_t(value: str) -> float | None:
    text = value.strip().lower()
    match = re.fullmatch(_NUMBER + r"\s*(t|kg|lbs|lb|st|cwt)?", text)
    if not match:
        return None
    number = float(match.group(1).replace(",", "."))
    unit = match.group(2)
    if unit == "kg":
        number /= 1000.0
    elif unit in ("lbs", "lb"):
        number *= 0.00045359237
    elif unit == "st":  # short tons, as used on some US signs
        number *= 0.90718474
    elif unit == "cwt":
        number *= 0.0508
    return number if number > 0 else None


def parse_weight_t(raw: object) -> float | None:
    """Parse ``maxweight`` (tonnes by default; ``kg``, ``lbs``, ``st``, ``cwt``).

    Several values (a simplified edge) give the most restrictive one.
    """
    weights = [w for w in (_one_weight_t(v) for v in _values(raw)) if w is not None]
    return min(weights) if weights else None


def _one_length_m(value: str) -> float | None:
    text = value.strip().lower().replace("’", "'").replace("″", '"').replace("”", '"')
    feet = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(?:'|ft)\s*(?:([0-9]+(?:\.[0-9]+)?)\s*(?:\"|in)?)?", text)
    if feet:
        inches = float(feet.group(2)) if feet.group(2) else 0.0
        return float(feet.group(1)) * 0.3048 + inches * 0.0254
    match = re.fullmatch(_NUMBER + r"\s*(m|cm)?", text)
    if not match:
        return None
    number = float(match.group(1).replace(",", "."))
    if match.group(2) == "cm":
        number /= 100.0
    return number if number > 0 else None


def parse_length_m(raw: object) -> float | None:
    """Parse ``maxheight``/``maxwidth``/``maxlength`` (metres; feet and inches too).

    ``default``, ``none`` and ``below_default`` carry no number and give ``None``.
    Several values give the most restrictive one.
    """
    lengths = [x for x in (_one_length_m(v) for v in _values(raw)) if x is not None]
    return min(lengths) if lengths else None


HGV_OK, HGV_DESTINATION, HGV_NO = 0, 1, 2


def parse_hgv(raw: object) -> int:
    """Classify an ``hgv`` tag: ``HGV_NO``, ``HGV_DESTINATION`` or ``HGV_OK``."""
    values = {v.lower() for v in _values(raw)}
    if values & {"no", "private", "agricultural", "forestry"}:
        return HGV_NO
    if values & {"destination", "delivery", "permit", "permissive", "designated"}:
        return HGV_DESTINATION if values & {"destination", "delivery", "permit"} else HGV_OK
    return HGV_OK
