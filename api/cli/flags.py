"""Solver flags of `plan`, `vrplib` and `kim`, with defaults and bounds from :mod:`~binroute.api.pipeline.options`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..pipeline.options import DEFAULT_ENGINE, ENGINES, MAX_TIME_LIMIT_S, MIN_TIME_LIMIT_S


def solver_flags(*, default_time_limit_s: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding ``--time-limit``, ``--solution-limit``, ``--engine`` and ``--seed``."""
    flags = [
        click.option(
            "--time-limit",
            type=click.FloatRange(min=MIN_TIME_LIMIT_S, max=MAX_TIME_LIMIT_S),
            default=None,
            help=f"Solver time limit, seconds (default {default_time_limit_s:g}; none with --solution-limit alone).",
        ),
        click.option(
            "--solution-limit",
            type=click.IntRange(min=1),
            default=None,
            help="Stop after this many solutions (deterministic without --time-limit).",
        ),
        click.option("--engine", type=click.Choice(ENGINES), default=DEFAULT_ENGINE, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
    ]

    def add(func: Callable[..., Any]) -> Callable[..., Any]:
        for flag in reversed(flags):
            func = flag(func)
        return func

    return add
