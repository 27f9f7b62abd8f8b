"""Pydantic models for every request and response of the HTTP API."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from datetime import date as Date
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic import field_validator as field_check

from ..pipeline.options import (
    DEFAULT_ENGINE,
    DEFAULT_TIME_LIMIT_S,
    EngineName,
    HorizonDays,
    PlanOptions,
    RoundsName,
    SolutionLimit,
    ThresholdPct,
    TimeLimit,
    time_limit_for,
)
from ..pipeline.scenario import COLLECTION_BOUNDS
from ..pipeline.simulate.policies import PolicyError, parse_policy
from ..pipeline.simulate.run import DEFAULT_SOLUTION_LIMIT, SimOptions, policies_from

#: Dates the API takes: ISO 8601 ``YYYY-MM-DD``, years 1900 to 2199 (the range pandas timestamps hold).
DATE_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
#: Times the API takes: an ISO 8601 date, ``T``, ``HH:MM[:SS[.fff]]`` and an optional ``Z`` or ``±HH:MM``.
DATETIME_PATTERN = (
    r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)
#: Largest ``offset`` a page request may give (past any table's size; keeps it a 64-bit integer).
MAX_OFFSET = 2**31 - 1


def _parsed(pattern: str, parse: Any, what: str) -> Any:
    """A before-validator: a string matching ``pattern``, parsed by ``parse``; else a message naming ``what``."""
    rx = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, Date):  # already parsed (a default, or a model built in Python)
            return value
        if not isinstance(value, str) or not rx.match(value):
            raise ValueError(f"must be {what}")
        return parse(value)

    return check


DateText = Annotated[
    Date,
    BeforeValidator(_parsed(DATE_PATTERN, Date.fromisoformat, "a date YYYY-MM-DD between 1900 and 2199")),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
DateTimeText = Annotated[
    datetime,
    BeforeValidator(
        _parsed(
            DATETIME_PATTERN, datetime.fromisoformat, "a time YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM] between 1900 and 2199"
        )
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "ISO 8601 time; without an offset it is local time in the fleet's timezone",
        }
    ),
]
#: A stored time (UTC without a time zone) as the API answers it: ISO 8601 with ``Z``.
StoredTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat() + "Z", return_type=str, when_used="json")]


def rfc3339(t: datetime) -> str:
    """A time as RFC 3339 text: its own offset where that is whole minutes, else in UTC with ``Z``.

    A zone's local mean time before standard time (Helsinki's +01:39:49 in 1900)
    has seconds in its offset, which RFC 3339 cannot write.
    """
    offset = t.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        return t.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    return t.isoformat()


#: A time with its own offset (or none), answered as RFC 3339 (:func:`rfc3339`).
LocalTime = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]
Limit = Annotated[int, Field(ge=1, le=500, description="page size")]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET, description="items to skip")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    error: ErrorBody


class Page(BaseModel):
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[Any], total: int, query: ListQuery | ReadingQuery) -> Self:
        """The page of ``items`` a query asked for (its limit and offset), of ``total`` in all."""
        return cls.model_validate({"items": items, "total": total, "limit": query.limit, "offset": query.offset})


class ScenarioOut(BaseModel):
    id: str
    name: str
    created: StoredTime
    bins: int
    vehicles: int
    readings: int
    collections: int


class ScenarioPage(Page):
    items: list[ScenarioOut]


class BinPage(Page):
    items: Annotated[list[dict[str, Any]], Field(description="rows of the scenario's bins.csv")]


class VehiclePage(Page):
    items: Annotated[list[dict[str, Any]], Field(description="the vehicles of the scenario's fleet.json")]


class ScenarioJsonIn(_In):
    """Create a scenario from JSON; the road network is copied from an existing scenario."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    fleet: dict[str, Any]
    bins: Annotated[list[dict[str, Any]], Field(min_length=1)]
    network_from: Annotated[str, Field(description="id of a scenario whose road network to reuse")]


class ReadingIn(_In):
    bin_id: Annotated[str, Field(min_length=1, max_length=200)]
    timestamp: DateTimeText
    fill_pct: Annotated[float, Field(allow_inf_nan=False)]


class ReadingsIn(_In):
    readings: Annotated[list[ReadingIn], Field(min_length=1, max_length=200_000)]


class IngestOut(BaseModel):
    received: int
    inserted: int
    duplicates: int


class ReadingOut(BaseModel):
    bin_id: str
    timestamp: StoredTime
    fill_pct: float


class ReadingPage(Page):
    items: list[ReadingOut]


class ReadingQuery(_In):
    bin_id: Annotated[str | None, Field(min_length=1, max_length=200, description="one bin")] = None
    start: DateTimeText | None = Field(default=None, alias="from", description="from (inclusive)")
    end: DateTimeText | None = Field(default=None, alias="to", description="to (inclusive)")
    limit: Annotated[int, Field(ge=1, le=10_000, description="page size")] = 1000
    offset: Offset = 0


_FILL_LOW, _FILL_HIGH = COLLECTION_BOUNDS["fill_pct"]
_KG_LOW, _ = COLLECTION_BOUNDS["kg"]


class CollectionIn(_In):
    """One emptying of a bin, as a row of ``collections.csv``."""

    bin_id: Annotated[str, Field(min_length=1, max_length=200)]
    collected_at: DateTimeText
    fill_pct: Annotated[
        float | None,
        Field(ge=_FILL_LOW, le=_FILL_HIGH, allow_inf_nan=False, description="level just before; null when unknown"),
    ]
    kg: Annotated[float | None, Field(ge=_KG_LOW, allow_inf_nan=False, description="weight collected")] = None


class CollectionsIn(_In):
    collections: Annotated[list[CollectionIn], Field(min_length=1, max_length=200_000)]


class CollectionOut(BaseModel):
    bin_id: str
    collected_at: StoredTime
    fill_pct: float | None
    kg: float | None


class CollectionPage(Page):
    items: list[CollectionOut]


class CollectionQuery(ReadingQuery):
    """Collections of one bin and a time range (``from`` and ``to`` on ``collected_at``)."""


class ListQuery(_In):
    limit: Limit = 50
    offset: Offset = 0


class ForecastQuery(_In):
    at: DateTimeText


class PlanQuery(_In):
    tiles: Annotated[
        str | None, Field(min_length=1, max_length=500, description="tile URL template for the map page (default: OSM)")
    ] = None


class BinForecast(BaseModel):
    fill_pct: float | None
    fill_p10: float | None
    fill_p90: float | None
    p_overflow: float | None
    decision: Literal["must", "may", "skip"]
    reason: str
    model: Annotated[str, Field(description="the forecast model used for the bin; empty when its fill is unknown")]
    due_by: Annotated[
        str | None,
        Field(description="the day (ISO) a bin not due today is due by, within the horizon; null otherwise"),
    ] = None


class ForecastOut(BaseModel):
    at: LocalTime
    bins: dict[str, BinForecast]


class PlanIn(_In):
    """A plan request: the options of ``binroute plan``, with the same defaults and bounds."""

    date: DateText
    time_limit_s: TimeLimit | None = Field(
        default=None,
        description=f"seconds of search (default {DEFAULT_TIME_LIMIT_S:g}; none when only solution_limit is given)",
    )
    solution_limit: SolutionLimit | None = None
    engine: EngineName = DEFAULT_ENGINE
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    threshold_pct: ThresholdPct | None = None
    include_may: Annotated[bool, Field(description="also collect bins that may be collected")] = True
    horizon_days: HorizonDays | None = None
    rounds: Annotated[
        RoundsName,
        Field(description="districts: one compact district per crew; free: one search over the whole day"),
    ] = "districts"
    like: Annotated[
        str | None,
        Field(
            max_length=64,
            description="id of an earlier plan (done) to stay close to: each bin kept with the crew that served it",
        ),
    ] = None

    def options(self) -> PlanOptions:
        """The run's options, the time limit resolved as the CLI does (``like`` is resolved by the endpoint)."""
        return PlanOptions(
            date=self.date,
            time_limit_s=time_limit_for(self.time_limit_s, self.solution_limit),
            solution_limit=self.solution_limit,
            engine=self.engine,
            seed=self.seed,
            threshold_pct=self.threshold_pct,
            include_may=self.include_may,
            horizon_days=self.horizon_days,
            rounds=self.rounds,
        )


class PlanProgress(BaseModel):
    """Where a running plan is, as the process solving it last wrote (about once a second)."""

    stage: Annotated[
        Literal["scenario", "graph", "forecast", "matrix", "solve", "write"],
        Field(description="scenario, graph (road network), forecast, matrix (travel times), solve, write (outputs)"),
    ]
    percent: Annotated[float, Field(ge=0, le=100, description="of the whole plan; the solve moves with its budget")]
    updated: Annotated[StoredTime, Field(description="when the solver wrote it")]


class JobOut(BaseModel):
    """What every background job (a plan's solve, a simulation) answers with."""

    id: str
    scenario_id: str
    status: Literal["queued", "running", "done", "failed"]
    error: str | None = None
    created: StoredTime
    started: StoredTime | None = None
    finished: StoredTime | None = None
    options: dict[str, Any]
    links: dict[str, str]


class PlanOut(JobOut):
    summary: dict[str, Any] | None = None
    progress: Annotated[PlanProgress | None, Field(description="while the plan is running")] = None


class PlanPage(Page):
    items: list[PlanOut]


def _policy_name(text: str) -> str:
    """A policy's name as ``binroute simulate --policy`` takes it, normalised; else its error message."""
    try:
        return parse_policy(text).name
    except PolicyError as exc:
        raise ValueError(str(exc)) from exc


PolicyName = Annotated[
    str,
    Field(min_length=1, max_length=100, description="predictive, timetable:mon,thu or threshold:80"),
    AfterValidator(_policy_name),
]
#: Most days one simulation may replay, and most policies it may compare.
MAX_SIMULATION_DAYS, MAX_POLICIES = 366, 6


class SimulationIn(_In):
    """A simulation request: the options of ``binroute simulate``, with the same defaults and bounds."""

    start: DateText = Field(alias="from", description="first day to simulate")
    end: DateText = Field(alias="to", description="last day to simulate")
    policies: Annotated[list[PolicyName], Field(min_length=1, max_length=MAX_POLICIES)]
    time_limit_s: TimeLimit | None = Field(default=None, description="seconds of search per day and policy")
    solution_limit: SolutionLimit | None = Field(
        default=None,
        description=f"solutions per day and policy (default {DEFAULT_SOLUTION_LIMIT} when no time limit is given)",
    )
    engine: EngineName = DEFAULT_ENGINE
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0

    @field_check("end")
    @classmethod
    def _days(cls, end: Date, info: ValidationInfo) -> Date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"{end} is before from ({start})")
        if start is not None and (end - start).days >= MAX_SIMULATION_DAYS:
            raise ValueError(f"at most {MAX_SIMULATION_DAYS} days from 'from'")
        return end

    @field_check("policies")
    @classmethod
    def _distinct(cls, policies: list[str]) -> list[str]:
        try:
            policies_from(policies)
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc
        return policies

    def options(self) -> SimOptions:
        """The run's options, the limits resolved as the CLI does."""
        return SimOptions.given(self.start, self.end, self.time_limit_s, self.solution_limit, self.engine, self.seed)


class SimulationProgress(BaseModel):
    days_done: Annotated[int, Field(description="policy-days simulated so far")]
    days_total: Annotated[int, Field(description="days times policies")]


class SimulationOut(JobOut):
    progress: SimulationProgress
    result: Annotated[
        dict[str, Any] | None, Field(description="simulation.json, when done (lists leave it out: null)")
    ] = None


class SimulationPage(Page):
    items: list[SimulationOut]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    broker: Literal["ok", "none"] = Field(description="none: jobs run in local processes, no broker")


class KeyIn(_In):
    """A new API key of the admin's own organisation."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Literal["viewer", "planner", "admin"]


class KeyOut(BaseModel):
    id: str
    name: str
    role: Literal["viewer", "planner", "admin"]
    created: StoredTime
    revoked: StoredTime | None = None


class KeyCreated(KeyOut):
    secret: Annotated[str, Field(description="the key itself; shown once, stored only hashed")]


class KeyPage(Page):
    items: list[KeyOut]


class AuditOut(BaseModel):
    at: StoredTime
    key_id: str | None
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any] | None = None


class AuditPage(Page):
    items: list[AuditOut]


class LimitOut(BaseModel):
    limit: Annotated[int, Field(description="the cap: the organisation's own, else the server's setting")]
    used: Annotated[int, Field(description="jobs queued or running now, or rows stored")]
    own: Annotated[bool, Field(description="whether the organisation has a limit of its own (binroute orgs limits)")]


class OrgLimitsOut(BaseModel):
    solves: LimitOut
    simulations: LimitOut
    readings: LimitOut
    collections: LimitOut
    upload_bytes: Annotated[int, Field(description="the largest request body, in bytes")]
    rate: Annotated[str | None, Field(description="requests by the organisation's keys, e.g. 1200 per 1 minute")]


class OrgOut(BaseModel):
    id: str
    name: str
    created: StoredTime
    limits: OrgLimitsOut


# The live day (:mod:`binroute.api.service.live`): crew tokens, events, the day's state and re-plans.

#: What a crew may see in a bin when it empties it, and the fill (%) each becomes in the collection log.
FILL_SEEN: dict[str, float] = {
    "empty": 0.0,
    "quarter": 25.0,
    "half": 50.0,
    "three_quarters": 75.0,
    "full": 100.0,
    "overflowing": _FILL_HIGH or 100.0,
}
FillSeen = Literal["empty", "quarter", "half", "three_quarters", "full", "overflowing"]
#: A stop's outcome at a bin: emptied, or one of the exceptions that leave it as it is.
STOP_KINDS = ("done", "not_out", "blocked", "contaminated", "damaged")
#: Reports: a bin overflowing or fly-tipping (at a bin or a position), a bin the public says was missed,
#: a lorry broken down, and a bare position.
REPORT_KINDS = ("overflow", "fly_tip", "missed", "breakdown", "position")
EventKind = Literal[
    "done", "not_out", "blocked", "contaminated", "damaged", "overflow", "fly_tip", "missed", "breakdown", "position"
]
#: Client event ids: letters, digits and ``._:-``, so a phone can make one (a UUID) before it has signal.
EVENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"


class EventIn(_In):
    """One thing a crew (or the planner) reports: a stop's outcome, a report, or where the lorry is."""

    event_id: Annotated[
        str, Field(pattern=EVENT_ID_PATTERN, description="the client's own id (a UUID): a resend is not counted twice")
    ]
    kind: EventKind
    at: DateTimeText
    vehicle_id: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="the crew; a crew token's own when left out"),
    ] = None
    bin_id: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=200,
            validate_default=True,
            description="needed by done, not_out, blocked, contaminated, damaged and missed",
        ),
    ]
    fill: Annotated[
        FillSeen | None, Field(default=None, validate_default=True, description="the fill seen; needed by done")
    ]
    lon: Annotated[float | None, Field(ge=-180, le=180, allow_inf_nan=False)] = None
    lat: Annotated[
        float | None,
        Field(
            default=None,
            ge=-90,
            le=90,
            allow_inf_nan=False,
            validate_default=True,
            description="with lon: where; needed by overflow and fly_tip without a bin, and by position",
        ),
    ]
    note: Annotated[str | None, Field(max_length=500)] = None

    @field_check("bin_id")
    @classmethod
    def _bin_needed(cls, bin_id: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if bin_id is None and (kind in STOP_KINDS or kind == "missed"):
            raise ValueError(f"a {kind} event needs the bin's id")
        return bin_id

    @field_check("fill")
    @classmethod
    def _fill_with_done(cls, fill: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "done" and fill is None:
            raise ValueError("an emptied bin needs the fill seen")
        if kind not in ("done", "overflow", None) and fill is not None:
            raise ValueError(f"a {kind} event has no fill")
        return fill

    @field_check("lat")
    @classmethod
    def _position(cls, lat: float | None, info: ValidationInfo) -> float | None:
        lon, kind = info.data.get("lon"), info.data.get("kind")
        if (lat is None) != (lon is None) and "lon" in info.data:
            raise ValueError("lon and lat come together")
        if lat is None and kind == "position":
            raise ValueError("a position event needs lon and lat")
        if lat is None and kind in ("overflow", "fly_tip") and info.data.get("bin_id") is None:
            raise ValueError(f"a {kind} report needs a bin_id or lon and lat")
        return lat


class EventsIn(_In):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=1000)]


class EventsOut(IngestOut):
    """Events received, new to the server, and already stored (same ``event_id``: not counted again)."""

    collections: Annotated[int, Field(description="rows added to the scenario's collection log")]


class EventOut(BaseModel):
    event_id: str
    kind: str
    vehicle_id: str | None
    bin_id: str | None
    fill: str | None
    at: StoredTime
    lon: float | None
    lat: float | None
    note: str | None


class Position(BaseModel):
    lon: float
    lat: float
    at: StoredTime


class StopOut(BaseModel):
    """A stop of a crew's route in the plan's current version, with what happened there."""

    sequence: int
    bin_id: str
    street: str | None
    side: str | None
    walk_out_m: Annotated[
        float | None, Field(description="a walk-out: the lorry waits on the through street, the crew walks this far")
    ] = None
    stream: str | None
    capacity_l: float | None
    eta: Annotated[str, Field(description="planned start of service, local ISO 8601")]
    lon: float
    lat: float
    status: Annotated[str, Field(description="left, or the latest of done, not_out, blocked, contaminated, damaged")]
    fill: str | None = None


class CrewDayOut(BaseModel):
    vehicle_id: str
    stops_done: Annotated[int, Field(description="bins this crew emptied or reported an exception at")]
    stops_left: Annotated[int, Field(description="stops of its current route with nothing reported yet")]
    exceptions: list[EventOut]
    last_position: Position | None
    late_min: Annotated[float | None, Field(description="minutes behind the plan at its latest stop (negative: ahead)")]
    broken_down: bool
    stops: list[StopOut]


class DayOut(BaseModel):
    plan_id: Annotated[str, Field(description="the day's current version")]
    root_id: Annotated[str, Field(description="the day's first plan, which events and crew tokens belong to")]
    version: int
    date: str
    timezone: str
    crews: list[CrewDayOut]
    reports: Annotated[list[EventOut], Field(description="overflow, fly-tip and missed-bin reports")]
    events: Annotated[int, Field(description="events received for the day")]
    links: dict[str, str]


class CrewTokenIn(_In):
    vehicle_id: Annotated[str, Field(min_length=1, max_length=200)]


class CrewTokenOut(BaseModel):
    id: str
    plan_id: str
    vehicle_id: str
    day: str
    created: StoredTime
    expires: StoredTime
    revoked: StoredTime | None = None


class CrewTokenCreated(CrewTokenOut):
    token: Annotated[str, Field(description="the crew's token; shown once, stored only hashed")]
    link: Annotated[str, Field(description="the crew page, the token in its fragment (not sent to servers)")]


class CrewTokenList(BaseModel):
    items: list[CrewTokenOut]


class ReplanIn(_In):
    """A re-plan of the rest of the day from what the crews reported."""

    at: DateTimeText | None = Field(default=None, description="re-plan as of this time (default: now)")
    time_limit_s: Annotated[
        float | None,
        Field(
            gt=0,
            le=60,
            allow_inf_nan=False,
            description=(
                "seconds of each of its solves (crews keeping their stops; stops free to move; routes built anew "
                "when both leave a broken-down crew's or added bins, twice this); default: scaled to the stops "
                "left, 1 to 5 s"
            ),
        ),
    ] = None
    solution_limit: SolutionLimit | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    keep_unless_saves_pct: Annotated[
        float,
        Field(ge=0, le=100, allow_inf_nan=False, description="move stops between crews only if it saves this much"),
    ] = 10.0


class CrewChange(BaseModel):
    vehicle_id: str
    kept: Annotated[int, Field(description="its remaining stops it keeps")]
    moved_in: Annotated[int, Field(description="stops it takes from other crews")]
    moved_out: Annotated[int, Field(description="its stops now another crew's")]
    moved_in_bins: Annotated[list[str], Field(description="the bins it takes from other crews")] = []
    moved_out_bins: Annotated[list[str], Field(description="its bins now another crew's")] = []
    added: Annotated[int, Field(description="bins added to the day (overflowing, missed) it now collects")]
    dropped: Annotated[int, Field(description="its stops dropped (not out, exceptions)")]
    stops: int


class ReplanOut(BaseModel):
    plan: PlanOut
    version: int
    replaces: str
    choice: Annotated[str, Field(description="keep (crews keep their stops) or move (moving them saved enough)")]
    kept_share: Annotated[float, Field(description="share of remaining stops that keep their crew")]
    kept_cost: Annotated[float, Field(description="cost of the rest of the day with every crew keeping its stops")]
    moved_cost: Annotated[float, Field(description="cost of the rest of the day with stops free to move")]
    move_cost: Annotated[
        float, Field(description="the penalty a stop paid in the search for changing crew (not in either cost)")
    ] = 0.0
    changes: list[CrewChange]
    unserved_required: list[str]
    unserved_why: Annotated[
        dict[str, list[str]], Field(description="the required bins left, by the reason each was left")
    ] = {}
    fleet_short: Annotated[
        str | None,
        Field(
            description="why required bins are left when the crews out are full, and the crews that would serve them"
        ),
    ] = None
    feasible: Annotated[bool, Field(description="the independent checker found the routes feasible")]
    seconds: float
