"""Reading and validating a scenario directory.

A scenario holds ``bins.csv``, ``fleet.json``, fill data (``readings.csv``
from sensors, ``collections.csv`` from collection logs, or both) and a road
network (``network.osm``, ``network.osm.bz2`` or ``network.osm.pbf``, or a
``scenario.json`` saying ``{"network": "path/to/file"}``). Everything is
checked here, at the edge, with messages that name the file, the line and the
field; the core gets plain values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from binroute.geo import OSM_SUFFIXES
from binroute.routing import MAX_OVERLAP

from .errors import RowError, ScenarioError
from .options import DEFAULT_HORIZON_DAYS, MAX_HORIZON, ThresholdPct

#: The road network file names a scenario directory may hold, searched in this order.
NETWORK_NAMES = tuple(f"network{suffix}" for suffix in OSM_SUFFIXES)
_HHMM = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def parse_hhmm(value: str) -> int:
    """``"06:30"`` → seconds after midnight (``"24:00"`` allowed)."""
    match = _HHMM.match(value.strip())
    if not match or (int(match.group(1)) == 24 and match.group(2) != "00"):
        raise ValueError(f"{value!r} is not a time of day as HH:MM")
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60


HHMM = Annotated[str, Field(pattern=r"^([01]?\d|2[0-4]):[0-5]\d$", description="local time of day, HH:MM")]
Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class DepotIn(_Model):
    id: Annotated[str, Field(min_length=1)]
    lon: Lon
    lat: Lat
    opens: HHMM = "00:00"
    closes: HHMM = "24:00"


class FacilityIn(_Model):
    id: Annotated[str, Field(min_length=1)]
    lon: Lon
    lat: Lat
    streams: Annotated[list[str], Field(min_length=1)]
    opens: HHMM = "00:00"
    closes: HHMM = "24:00"
    tip_minutes: Annotated[float, Field(ge=0, le=240)] = 15


class BreakIn(_Model):
    earliest: HHMM
    latest: HHMM
    minutes: Annotated[float, Field(gt=0, le=240)] = 30

    @model_validator(mode="after")
    def _order(self) -> BreakIn:
        if parse_hhmm(self.latest) < parse_hhmm(self.earliest):
            raise ValueError("latest is before earliest")
        return self


#: The crew-day cost model's defaults (a two-person crew and a 26-t refuse lorry, in the fleet's money unit).
DEFAULT_COST_PER_DAY = 450.0
DEFAULT_OVERTIME_PER_HOUR = 60.0
#: Per km by fuel: litres of diesel or kWh, and kg CO2 (diesel 2.64 kg/l; an average European grid mix).
ENERGY_PER_KM = {"diesel": 0.42, "electric": 1.6}
KG_CO2_PER_KM = {"diesel": 1.1, "electric": 0.2}


class VehicleIn(_Model):
    """A crew and lorry in ``fleet.json``.

    Costs are a crew day: ``cost_per_day`` (alias ``fixed_cost``; crew and
    lorry, paid once the vehicle goes out at all, covering ``paid_hours``,
    default the shift's length), ``overtime_per_hour`` for each hour worked
    beyond, ``cost_per_km`` for fuel and wear, and ``cost_per_hour`` per
    hour worked on top of the day (default 0: hours within the paid shift are
    already paid). ``fuel`` sets the defaults of ``energy_per_km`` (litres of
    diesel or kWh) and ``kg_co2_per_km``; ``range_km`` caps the day's
    distance (an electric lorry charging overnight only).
    """

    id: Annotated[str, Field(min_length=1)]
    depot: str
    end_depot: str | None = None
    streams: Annotated[list[str], Field(min_length=1)]
    capacity_kg: Annotated[float, Field(gt=0)]
    capacity_l: Annotated[float, Field(gt=0)]
    shift_start: HHMM
    shift_end: HHMM
    max_shift_hours: Annotated[float, Field(gt=0, le=24)] | None = None
    break_: BreakIn | None = Field(default=None, alias="break")
    cost_per_km: Annotated[float, Field(ge=0)] = 1.5
    cost_per_hour: Annotated[float, Field(ge=0)] = 0.0
    cost_per_day: Annotated[float, Field(ge=0)] | None = None
    fixed_cost: Annotated[float, Field(ge=0)] | None = None
    paid_hours: Annotated[float, Field(ge=0, le=24)] | None = None
    overtime_per_hour: Annotated[float, Field(ge=0)] = DEFAULT_OVERTIME_PER_HOUR
    fuel: Literal["diesel", "electric"] = "diesel"
    energy_per_km: Annotated[float, Field(ge=0)] | None = None
    kg_co2_per_km: Annotated[float, Field(ge=0)] | None = None
    range_km: Annotated[float, Field(gt=0)] | None = None
    max_lifts: Annotated[int, Field(gt=0)] | None = None
    max_kg_per_day: Annotated[float, Field(gt=0)] | None = None
    weight_t: Annotated[float, Field(gt=0, le=60)] = 26.0
    height_m: Annotated[float, Field(gt=0, le=6)] = 3.6
    width_m: Annotated[float, Field(gt=0, le=4)] = 2.55
    length_m: Annotated[float, Field(gt=0, le=25)] = 10.0
    max_speed_kph: Annotated[float, Field(gt=0, le=130)] = 90.0

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shift(self) -> VehicleIn:
        if parse_hhmm(self.shift_end) <= parse_hhmm(self.shift_start):
            raise ValueError("shift_end must be after shift_start")
        if self.cost_per_day is not None and self.fixed_cost is not None and self.cost_per_day != self.fixed_cost:
            raise ValueError("cost_per_day and fixed_cost are the same cost: give one of them")
        return self

    @property
    def day_cost(self) -> float:
        """The cost of using the vehicle at all on a day (``cost_per_day``, or its alias ``fixed_cost``)."""
        given = self.cost_per_day if self.cost_per_day is not None else self.fixed_cost
        return DEFAULT_COST_PER_DAY if given is None else given

    @property
    def paid_seconds(self) -> int:
        """The paid shift in seconds: ``paid_hours``, else the shift's length."""
        if self.paid_hours is not None:
            return round(self.paid_hours * 3600)
        return parse_hhmm(self.shift_end) - parse_hhmm(self.shift_start)

    @property
    def energy_km(self) -> float:
        """Litres of diesel or kWh per km."""
        return self.energy_per_km if self.energy_per_km is not None else ENERGY_PER_KM[self.fuel]

    @property
    def co2_km(self) -> float:
        """kg CO2 per km."""
        return self.kg_co2_per_km if self.kg_co2_per_km is not None else KG_CO2_PER_KM[self.fuel]


class StreamIn(_Model):
    kg_per_litre: Annotated[float, Field(gt=0, le=2)]
    compaction: Annotated[float, Field(ge=1, le=10)] = 1.0


#: How far a crew walks a bin out of a dead end by default (m, one way): the 25 m issue #30 gives from practice.
DEFAULT_WALK_OUT_M = 25.0
#: A loader's walking speed with a wheeled bin (km/h): about 1 m/s, below the 1.2-1.4 m/s of pedestrians.
DEFAULT_WALK_SPEED_KPH = 3.6


class TurnsIn(_Model):
    """How the lorry may turn (``planning.turns`` in ``fleet.json``); see ``binroute.geo.turns.TurnRules``."""

    #: ``turns``: the turn-aware road model (restrictions, no U-turns but at
    #: dead ends and turning places, kerbside visits); ``nodes``: the plain
    #: node-based model (any turn, a stop left in any direction).
    model: Literal["turns", "nodes"] = "turns"
    #: ``auto``: from the fleet's time zone (left in the UK, Ireland, Australia, ...).
    driving_side: Literal["auto", "left", "right"] = "auto"
    u_turns: Literal["dead_ends", "penalised"] = "dead_ends"
    u_turn_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    u_turn_penalty_s: Annotated[float, Field(ge=0, le=86400)] = 900.0
    turn_s: Annotated[float, Field(ge=0, le=600)] = 2.0
    cross_traffic_s: Annotated[float, Field(ge=0, le=600)] = 10.0
    #: A bin in a dead-end street at most this far (m, one way) from the through street may be walked out
    #: to the lorry waiting there instead of the lorry driving in and turning round (0: never).
    walk_out_m: Annotated[float, Field(ge=0, le=200)] = DEFAULT_WALK_OUT_M
    #: The crew's walking speed with a wheeled bin (km/h), which prices a walk-out's time.
    walk_speed_kph: Annotated[float, Field(gt=0, le=10)] = DEFAULT_WALK_SPEED_KPH


#: Road distance over great-circle distance (circuity) without a road network: about 1.2-1.4 measured for
#: road trips (Ballou, Rahardja and Sakai 2002; Boscoe, Henry and Zdeb 2012), 1.3 taken.
DEFAULT_DETOUR_FACTOR = 1.3
#: A collection lorry's average speed between stops without a road network (km/h): urban streets.
DEFAULT_ESTIMATE_SPEED_KPH = 25.0


class PlanningIn(_Model):
    threshold_pct: ThresholdPct = 80.0
    overflow_risk: Annotated[float, Field(gt=0, lt=1)] | None = None
    horizon_days: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = DEFAULT_HORIZON_DAYS
    next_opportunity_days: Annotated[float, Field(gt=0, le=30)] = 1.0
    overflow_cost: Annotated[float, Field(ge=0)] = 40.0
    collect_at: HHMM = "10:00"
    balance_weight: Annotated[float, Field(ge=0)] = 0.0
    #: Territory overlap of rounds sharing a stream up to which a cheaper plan may replace the districts'.
    max_overlap: Annotated[float, Field(ge=0, le=1)] = MAX_OVERLAP
    max_snap_m: Annotated[float, Field(gt=0)] = 150.0
    turns: TurnsIn = TurnsIn()
    #: Without a road network: road km per great-circle km, and the average speed (see ``roads.estimate_travel``).
    detour_factor: Annotated[float, Field(ge=1, le=5)] = DEFAULT_DETOUR_FACTOR
    estimate_speed_kph: Annotated[float, Field(gt=0, le=130)] = DEFAULT_ESTIMATE_SPEED_KPH


class FleetIn(_Model):
    timezone: str = "UTC"
    depots: Annotated[list[DepotIn], Field(min_length=1)]
    facilities: list[FacilityIn] = []
    vehicles: Annotated[list[VehicleIn], Field(min_length=1)]
    streams: dict[str, StreamIn] = {}
    planning: PlanningIn = PlanningIn()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refs(self) -> FleetIn:
        depot_ids = [d.id for d in self.depots]
        for kind, ids in (
            ("depot", depot_ids),
            ("facility", [f.id for f in self.facilities]),
            ("vehicle", [v.id for v in self.vehicles]),
        ):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"{kind} id(s) used twice: {', '.join(sorted(dup))}")
        for i, v in enumerate(self.vehicles):
            for d in (v.depot, v.end_depot):
                if d is not None and d not in depot_ids:
                    raise ValueError(f"vehicles[{i}] ({v.id}): depot {d!r} is not among the depots")
        return self


class BinIn(_Model):
    bin_id: Annotated[str, Field(min_length=1)]
    lon: Lon
    lat: Lat
    stream: Annotated[str, Field(min_length=1)]
    capacity_l: Annotated[float, Field(gt=0, le=40000)]
    service_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    tw_start: HHMM | None = None
    tw_end: HHMM | None = None
    #: From which side of the street the crew may serve it: ``either``, or
    #: ``kerb`` (only with the bin on the lorry's kerb side); blank for the
    #: default (kerb side on main roads, see ``binroute.geo.kerbside``).
    side: Literal["either", "kerb"] | None = None
    #: The bin's usual crew (a vehicle id of fleet.json), blank for none: see ``binroute.api.pipeline.areas``.
    crew: str | None = None

    @model_validator(mode="after")
    def _window(self) -> BinIn:
        if (self.tw_start is None) != (self.tw_end is None):
            raise ValueError("give both tw_start and tw_end, or neither")
        if (
            self.tw_start is not None
            and self.tw_end is not None
            and parse_hhmm(self.tw_end) < parse_hhmm(self.tw_start)
        ):
            raise ValueError("tw_end is before tw_start")
        return self


#: Characters of a bad value a message shows (a 100 MB field is not echoed back).
SHOWN_CHARS = 80


def _shown(value: object) -> str:
    """``repr(value)``, cut to :data:`SHOWN_CHARS` characters with the full length said."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text):,} characters)"


def _describe(exc: ValidationError, where: str) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        given = err.get("input")
        shown = f" (got {_shown(given)})" if not isinstance(given, dict | list) and given is not None else ""
        parts.append(f"{where}: {loc}: {err['msg']}{shown}")
    more = len(exc.errors()) - 5
    return "\n".join(parts) + (f"\n... and {more} more" if more > 0 else "")


def read_json(path: Path, *, missing: str = "file not found") -> Any:
    """A JSON file's contents; a :class:`ScenarioError` naming the file (and line) when it cannot be read.

    ``missing`` is what is said of a file that is not there.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: {missing}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    except RecursionError as exc:
        raise ScenarioError(f"{path}: not valid JSON (nested too deeply)") from exc
    except ValueError as exc:  # e.g. a number of more digits than Python converts
        raise ScenarioError(f"{path}: not valid JSON ({str(exc).split(';')[0]})") from exc


def load_fleet(path: Path) -> FleetIn:
    """Read and validate ``fleet.json``."""
    raw = read_json(path)
    try:
        return FleetIn.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, str(path))) from exc


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: file not found") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ScenarioError(f"{path}: not a readable CSV file ({exc})") from exc
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ScenarioError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(df.columns)}")
    return df


def load_bins(path: Path) -> pd.DataFrame:
    """Read and validate ``bins.csv`` (one row per bin; line numbers in errors)."""
    df = _read_csv(path, ("bin_id", "lon", "lat", "stream", "capacity_l"))
    optional = [c for c in ("service_s", "tw_start", "tw_end", "side", "crew") if c in df.columns]
    known = {"bin_id", "lon", "lat", "stream", "capacity_l", *optional}
    rows = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(df.to_dict("records")):
        line = i + 2
        data = {k: (v if v != "" else None) for k, v in rec.items() if k in known}
        try:
            row = BinIn.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(_describe(exc, f"{path} line {line}")) from exc
        if row.bin_id in seen:
            raise ScenarioError(f"{path} line {line}: bin_id {row.bin_id!r} already used on line {seen[row.bin_id]}")
        seen[row.bin_id] = line
        rows.append(row.model_dump())
    if not rows:
        raise ScenarioError(f"{path}: no bins")
    return pd.DataFrame(rows)


_TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)$"


def parse_timestamps(values: pd.Series, tz: str, where: str) -> pd.Series:
    """Parse ISO 8601 timestamps; those without an offset are taken as local ``tz``."""
    text = values.astype(str).str.strip()
    aware = text.str.contains(_TZ_SUFFIX, regex=True)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], utc=True, errors="coerce", format="ISO8601")
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], errors="coerce", format="ISO8601")
        out[~aware] = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    bad = out.isna()
    if bad.any():
        first = bad.to_numpy().nonzero()[0][:3]
        shown = "; ".join(f"line {int(i) + 2}: {text.iloc[i]!r}" for i in first)
        raise ScenarioError(f"{where}: timestamp is not an ISO 8601 date and time ({shown})")
    return out


def load_readings(path: Path, tz: str) -> pd.DataFrame:
    """Read ``readings.csv``. Bad timestamps are errors; odd fill values are left to cleaning."""
    df = _read_csv(path, ("bin_id", "timestamp", "fill_pct"))
    df["bin_id"] = df["bin_id"].str.strip()
    empty = df["bin_id"] == ""
    if empty.any():
        raise ScenarioError(f"{path} line {int(empty.to_numpy().nonzero()[0][0]) + 2}: bin_id is empty")
    fill = pd.to_numeric(df["fill_pct"].str.strip(), errors="coerce")
    bad = fill.isna() & (df["fill_pct"].str.strip() != "")
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise ScenarioError(f"{path} line {i + 2}: fill_pct {df['fill_pct'].iloc[i]!r} is not a number")
    return pd.DataFrame(
        {
            "bin_id": df["bin_id"],
            "timestamp": parse_timestamps(df["timestamp"], tz, str(path)),
            "fill_pct": fill,
        }
    )


COLLECTION_COLUMNS = ("bin_id", "collected_at", "fill_pct", "kg")
#: Bounds of the numeric collections fields (``None``: no upper bound); the HTTP schema reads them too.
COLLECTION_BOUNDS: dict[str, tuple[float, float | None]] = {"fill_pct": (0.0, 100.0), "kg": (0.0, None)}


def _empty_readings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bin_id": pd.Series(dtype=str),
            "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
            "fill_pct": pd.Series(dtype=float),
        }
    )


def load_collections(path: Path, tz: str) -> pd.DataFrame:
    """Read ``collections.csv``: one row per emptying (``bin_id``, ``collected_at``, ``fill_pct``, optional ``kg``).

    ``collected_at`` is ISO 8601 (local ``tz`` without an offset);
    ``fill_pct`` is the level just before the emptying, blank when unknown,
    else 0–100; ``kg`` is blank or at least 0.

    Raises
    ------
    ScenarioError
        Naming the file, line and field of the first bad value.
    """
    df = _read_csv(path, COLLECTION_COLUMNS[:3])
    extra = [c for c in df.columns if c not in COLLECTION_COLUMNS]
    if extra:
        raise ScenarioError(
            f"{path} line 1: unknown column(s) {', '.join(extra)}; expected {', '.join(COLLECTION_COLUMNS)}"
        )
    return collections_frame(df, tz, where=lambda i: f"{path} line {i + 2}")


def collections_frame(text: pd.DataFrame, tz: str, *, where: Callable[[int], str]) -> pd.DataFrame:
    """Check and parse collections given as text (``collections.csv`` rows, or items of an HTTP request).

    Parameters
    ----------
    text
        Columns ``bin_id``, ``collected_at``, ``fill_pct`` and optionally
        ``kg``, all strings; a blank ``fill_pct`` or ``kg`` is unknown.
    tz
        Time zone of a ``collected_at`` without an offset.
    where
        Names row ``i`` (0-based) in messages: ``"collections.csv line 14"``.

    Returns
    -------
    pandas.DataFrame
        ``bin_id``, ``collected_at`` (UTC), ``fill_pct`` and ``kg`` (nan when unknown).

    Raises
    ------
    RowError
        For the first bad value, naming the row and the field.
    """
    bin_id = text["bin_id"].astype(str).str.strip()
    for i in np.flatnonzero((bin_id == "").to_numpy())[:1]:
        raise RowError(f"{where(int(i))}: bin_id is empty", row=int(i), field="bin_id")
    when = text["collected_at"].astype(str).str.strip()
    for i in np.flatnonzero((when == "").to_numpy())[:1]:
        raise RowError(f"{where(int(i))}: collected_at is empty", row=int(i), field="collected_at")
    try:
        stamps = parse_timestamps(when, tz, "collections")
    except ScenarioError as exc:
        for i, raw in enumerate(when):  # only on failure: find the first bad row
            try:
                parse_timestamps(pd.Series([raw]), tz, "collections")
            except ScenarioError:
                raise RowError(
                    f"{where(i)}: collected_at {raw!r} is not an ISO 8601 date and time", row=i, field="collected_at"
                ) from exc
        raise
    out = {"bin_id": bin_id, "collected_at": stamps}
    for field, (low, high) in COLLECTION_BOUNDS.items():
        given = text[field].astype(str).str.strip() if field in text.columns else pd.Series("", index=text.index)
        value = pd.to_numeric(given, errors="coerce")
        for i in np.flatnonzero((given != "").to_numpy()):
            v = value.iloc[i]
            msg = f"{where(int(i))}: {field}"
            if v != v:
                raise RowError(f"{msg} {given.iloc[i]!r} is not a number", row=int(i), field=field)
            if v < low:
                raise RowError(f"{msg} {v:g} is below {low:g}", row=int(i), field=field)
            if high is not None and v > high:
                raise RowError(f"{msg} {v:g} is above {high:g}", row=int(i), field=field)
        out[field] = value
    return pd.DataFrame(out)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready for the pipeline (``network`` ``None``: distances are estimated)."""

    name: str
    directory: Path
    network: Path | None  # None: no road network, distances estimated
    fleet: FleetIn
    bins: pd.DataFrame
    readings: pd.DataFrame
    collections: pd.DataFrame | None = None


def find_network(directory: Path, *, required: bool = True) -> Path | None:
    """The scenario's road network file; without one, ``None`` unless ``required``."""
    cfg = directory / "scenario.json"
    if cfg.is_file():
        data = read_json(cfg)
        if not isinstance(data, dict) or not isinstance(data.get("network"), str):
            raise ScenarioError(f'{cfg}: expected {{"network": "path/to/file"}}')
        path = (directory / data["network"]).resolve()
        if not path.is_file():
            raise ScenarioError(f"{cfg}: network file {data['network']!r} not found")
        return path
    for name in NETWORK_NAMES:
        if (directory / name).is_file():
            return directory / name
    if not required:
        return None
    raise ScenarioError(f"{directory}: no road network ({', '.join(NETWORK_NAMES)} or scenario.json)")


def load_scenario(directory: str | Path, *, need_network: bool = True) -> Scenario:
    """Load and validate every file of a scenario directory.

    Without a road network the scenario's distances are estimated from its
    coordinates (``network`` is ``None``; see :func:`binroute.api.pipeline.roads.estimate_travel`).

    Raises
    ------
    ScenarioError
        Naming the file, line and field of the first problem found.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: scenario directory not found")
    fleet = load_fleet(directory / "fleet.json")
    network = find_network(directory, required=False) if need_network else directory
    if network is None:
        _need_coordinates(directory)
    bins = load_bins(directory / "bins.csv")
    readings, collections = load_fill_data(directory, fleet.timezone)
    return Scenario(directory.name, directory, network, fleet, bins, readings, collections)


def _need_coordinates(directory: Path) -> None:
    """That a scenario without a road network has every bin's coordinates to estimate distances from.

    Raises
    ------
    ScenarioError
        Naming both what is missing: the network and the coordinates (the column, or the first bin without).
    """
    path = directory / "bins.csv"
    df = _read_csv(path, ("bin_id",))
    missing = [c for c in ("lon", "lat") if c not in df.columns]
    blank = np.zeros(0, dtype=np.int64)
    if not missing:
        blank = np.flatnonzero(((df["lon"].str.strip() == "") | (df["lat"].str.strip() == "")).to_numpy())
    if not missing and not len(blank):
        return
    where = f"column(s) {', '.join(missing)} missing" if missing else f"line {int(blank[0]) + 2}: lon/lat blank"
    raise ScenarioError(
        f"{directory}: neither a road network ({', '.join(NETWORK_NAMES)} or scenario.json) nor bin coordinates "
        f"({path.name} {where}): give a network, or every bin's lon and lat to estimate distances from"
    )


def load_fill_data(directory: Path, tz: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``readings.csv`` and ``collections.csv`` of a scenario; at least one must be there.

    Returns the readings (empty without the file) and the collections
    (``None`` without the file).
    """
    has_readings = (directory / "readings.csv").is_file()
    has_collections = (directory / "collections.csv").is_file()
    if not has_readings and not has_collections:
        raise ScenarioError(f"{directory}: no fill data (readings.csv, collections.csv or both)")
    readings = load_readings(directory / "readings.csv", tz) if has_readings else _empty_readings()
    collections = load_collections(directory / "collections.csv", tz) if has_collections else None
    if (
        collections is not None
        and readings.empty
        and len(collections)
        and collections["bin_id"].duplicated().sum() == 0
    ):
        raise ScenarioError(
            f"{directory / 'collections.csv'} line 2: bin_id {collections['bin_id'].iloc[0]} has one collection, "
            "as has every bin: a bin's fill rate needs at least two of its collections (the time between them)"
        )
    return readings, collections


def load_fill_inputs(directory: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, str]:
    """Readings, collections (or ``None``), bins (where present) and time zone, for forecasts and backtests."""
    directory = Path(directory)
    tz = "UTC"
    if (directory / "fleet.json").is_file():
        tz = load_fleet(directory / "fleet.json").timezone
    bins = load_bins(directory / "bins.csv") if (directory / "bins.csv").is_file() else None
    readings, collections = load_fill_data(directory, tz)
    return readings, collections, bins, tz
