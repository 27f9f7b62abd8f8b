"""A planning run's options, defined once: names, defaults and bounds.

The CLI's flags, the HTTP plan request (``PlanIn``) and :class:`PlanOptions`
all read their engine names, default time limit and bounds from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date as Date
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema

from binroute.routing import ENGINES, MAX_HORIZON, ROUNDS

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_TIME_LIMIT_S",
    "ENGINES",
    "EXPORTS",
    "INSTANCE_TIME_LIMIT_S",
    "MAX_HORIZON",
    "MAX_TIME_LIMIT_S",
    "MIN_TIME_LIMIT_S",
    "ROUNDS",
    "EngineName",
    "HorizonDays",
    "PlanOptions",
    "RoundsName",
    "SolutionLimit",
    "ThresholdPct",
    "TimeLimit",
    "time_limit_for",
]

DEFAULT_ENGINE = "auto"
#: Seconds a plan may search when neither a time limit nor a solution limit is given.
DEFAULT_TIME_LIMIT_S = 30.0
#: The same for a benchmark instance (``binroute vrplib`` and ``binroute kim``).
INSTANCE_TIME_LIMIT_S = 60.0
MIN_TIME_LIMIT_S = 0.1
MAX_TIME_LIMIT_S = 3600.0
#: The files a plan can write besides ``plan.json`` and ``routes.geojson`` (``--exports``), all by default.
EXPORTS = ("map", "vehicles", "csv", "gpx", "gpkg", "png")
#: Chances looked ahead by the collect rule when neither the fleet's planning nor the run says (``--horizon``).
DEFAULT_HORIZON_DAYS = 1
#: The fill % at which a bin is due lies in (0, 100].
THRESHOLD_ABOVE, THRESHOLD_MAX = 0.0, 100.0


def _known_engine(name: str) -> str:
    """``name`` if it is one of :data:`ENGINES`."""
    if name not in ENGINES:
        raise ValueError(f"must be one of {', '.join(ENGINES)}")
    return name


EngineName = Annotated[str, AfterValidator(_known_engine), WithJsonSchema({"type": "string", "enum": list(ENGINES)})]


def _known_rounds(name: str) -> str:
    """``name`` if it is one of :data:`ROUNDS`."""
    if name not in ROUNDS:
        raise ValueError(f"must be one of {', '.join(ROUNDS)}")
    return name


RoundsName = Annotated[str, AfterValidator(_known_rounds), WithJsonSchema({"type": "string", "enum": list(ROUNDS)})]
TimeLimit = Annotated[float, Field(ge=MIN_TIME_LIMIT_S, le=MAX_TIME_LIMIT_S, description="seconds of search")]
SolutionLimit = Annotated[int, Field(ge=1, description="stop after this many solutions")]
ThresholdPct = Annotated[float, Field(gt=THRESHOLD_ABOVE, le=THRESHOLD_MAX, description="fill % at which a bin is due")]
HorizonDays = Annotated[
    int, Field(ge=1, le=MAX_HORIZON, description="collection days looked ahead when choosing each bin's day")
]


def time_limit_for(
    time_limit_s: float | None, solution_limit: int | None, *, default: float = DEFAULT_TIME_LIMIT_S
) -> float | None:
    """The time limit a run gets: the one given, none with a solution limit alone, else ``default``.

    A solution limit without a time limit makes a run deterministic.
    """
    if time_limit_s is not None:
        return time_limit_s
    return None if solution_limit is not None else default


@dataclass(frozen=True)
class PlanOptions:
    """Settings of one planning run (the CLI and the HTTP API fill these in).

    Raises
    ------
    ValueError
        When an option is outside its bounds, naming the option.
    """

    date: Date
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S
    solution_limit: int | None = None
    engine: str = DEFAULT_ENGINE
    seed: int = 0
    threshold_pct: float | None = None
    include_may: bool = True
    horizon_days: int | None = None
    #: ``districts`` (one compact district per crew) or ``free`` (:data:`binroute.routing.ROUNDS`).
    rounds: str = "districts"
    #: Usual crews learnt from a previous plan (vehicle id by bin id; ``--like``), and where from.
    usual_crews: dict[str, str] | None = None
    like: str | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s is not None and not MIN_TIME_LIMIT_S <= self.time_limit_s <= MAX_TIME_LIMIT_S:
            raise ValueError(f"time_limit_s must be {MIN_TIME_LIMIT_S:g} to {MAX_TIME_LIMIT_S:g} s")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("solution_limit must be at least 1")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.threshold_pct is not None and not THRESHOLD_ABOVE < self.threshold_pct <= THRESHOLD_MAX:
            raise ValueError(f"threshold_pct must be above {THRESHOLD_ABOVE:g} and at most {THRESHOLD_MAX:g}")
        if self.rounds not in ROUNDS:
            raise ValueError(f"rounds must be one of {', '.join(ROUNDS)}, not {self.rounds!r}")
        if self.horizon_days is not None and not 1 <= self.horizon_days <= MAX_HORIZON:
            raise ValueError(f"horizon_days must be 1 to {MAX_HORIZON} collection days, not {self.horizon_days}")

    def as_json(self) -> dict[str, Any]:
        """The options as JSON values (the date as ISO text), as a stored plan keeps them."""
        return {**asdict(self), "date": self.date.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanOptions:
        """Options from :meth:`as_json`'s output; keys it does not know are ignored, missing ones default."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "date": Date.fromisoformat(data["date"])})
