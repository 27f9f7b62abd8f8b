"""Pydantic models for every request and response of the HTTP API."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..pipeline.options import (
    DEFAULT_ENGINE,
    DEFAULT_TIME_LIMIT_S,
    EngineName,
    PlanOptions,
    SolutionLimit,
    ThresholdPct,
    TimeLimit,
    time_limit_for,
)


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


class ScenarioOut(BaseModel):
    id: str
    name: str
    created: datetime
    bins: int
    vehicles: int
    readings: int


class ScenarioPage(Page):
    items: list[ScenarioOut]


class ScenarioJsonIn(_In):
    """Create a scenario from JSON; the road network is copied from an existing scenario."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    fleet: dict[str, Any]
    bins: Annotated[list[dict[str, Any]], Field(min_length=1)]
    network_from: Annotated[str, Field(description="id of a scenario whose road network to reuse")]


class ReadingIn(_In):
    bin_id: Annotated[str, Field(min_length=1, max_length=200)]
    timestamp: datetime
    fill_pct: float


class ReadingsIn(_In):
    readings: Annotated[list[ReadingIn], Field(min_length=1, max_length=200_000)]


class IngestOut(BaseModel):
    received: int
    inserted: int
    duplicates: int


class ReadingOut(BaseModel):
    bin_id: str
    timestamp: datetime
    fill_pct: float


class ReadingPage(Page):
    items: list[ReadingOut]


class ReadingQuery(_In):
    bin_id: str | None = None
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000
    offset: Annotated[int, Field(ge=0)] = 0


class ListQuery(_In):
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0)] = 0


class ForecastQuery(_In):
    at: datetime


class BinForecast(BaseModel):
    fill_pct: float | None
    fill_p10: float | None
    fill_p90: float | None
    p_overflow: float | None
    decision: Literal["must", "may", "skip"]
    reason: str


class ForecastOut(BaseModel):
    at: datetime
    bins: dict[str, BinForecast]


class PlanIn(_In):
    """A plan request: the options of ``binroute plan``, with the same defaults and bounds."""

    date: Date
    time_limit_s: TimeLimit | None = Field(
        default=None,
        description=f"seconds of search (default {DEFAULT_TIME_LIMIT_S:g}; none when only solution_limit is given)",
    )
    solution_limit: SolutionLimit | None = None
    engine: EngineName = DEFAULT_ENGINE
    seed: int = 0
    threshold_pct: ThresholdPct | None = None
    include_may: Annotated[bool, Field(description="also collect bins that may be collected")] = True

    def options(self) -> PlanOptions:
        """The run's options, the time limit resolved as the CLI does."""
        return PlanOptions(
            date=self.date,
            time_limit_s=time_limit_for(self.time_limit_s, self.solution_limit),
            solution_limit=self.solution_limit,
            engine=self.engine,
            seed=self.seed,
            threshold_pct=self.threshold_pct,
            include_may=self.include_may,
        )


class PlanOut(BaseModel):
    id: str
    scenario_id: str
    status: Literal["queued", "running", "done", "failed"]
    error: str | None = None
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    options: dict[str, Any]
    summary: dict[str, Any] | None = None
    links: dict[str, str]


class PlanPage(Page):
    items: list[PlanOut]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
