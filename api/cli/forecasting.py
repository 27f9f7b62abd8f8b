"""``binroute forecast`` and ``binroute backtest``: the fill forecast at a time, and how well it predicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .console import user_errors

if TYPE_CHECKING:
    from ..pipeline.scenario import FleetIn


def _fleet(scenario: Path) -> FleetIn | None:
    """The scenario's fleet.json where it has one."""
    from ..pipeline.scenario import load_fleet

    return load_fleet(scenario / "fleet.json") if (scenario / "fleet.json").is_file() else None


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--at", "at", required=True, help="ISO date and time to forecast for (local time unless an offset is given)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def forecast(scenario: Path, at: str, as_json: bool) -> None:
    """Predicted fill, uncertainty and collect decision per bin at a time."""
    import pandas as pd

    from ..pipeline import ScenarioError, forecast_bins
    from ..pipeline.scenario import load_fill_inputs

    readings, collections, bins, tz = load_fill_inputs(scenario)
    try:
        when = pd.Timestamp(at)
    except ValueError as exc:
        raise ScenarioError(f"--at: {at!r} is not an ISO date and time") from exc
    when = when.tz_localize(tz) if when.tzinfo is None else when
    out = forecast_bins(readings, bins, tz, _fleet(scenario), when, collections=collections)["bins"]
    if as_json:
        click.echo(json.dumps({"at": when.isoformat(), "bins": out}, indent=2))
        return
    head = (
        f"{'bin':<12} {'fill%':>6} {'p10':>6} {'p90':>6} {'P(over)':>8}  {'model':<10} {'due by':<10} decision  reason"
    )
    click.echo(head)
    for b, r in out.items():

        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.0f}"

        po = "-" if r["p_overflow"] is None else f"{r['p_overflow']:.2f}"
        fills = f"{f(r['fill_pct']):>6} {f(r['fill_p10']):>6} {f(r['fill_p90']):>6}"
        due = r["due_by"] or "-"
        click.echo(f"{b:<12} {fills} {po:>8}  {r['model'] or '-':<10} {due:<10} {r['decision']:<8}  {r['reason']}")


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--from", "start", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="First origin day.")
@click.option("--to", "end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last origin day.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the result (default out/backtest/<scenario>.json).",
)
@user_errors
def backtest(scenario: Path, start: Any, end: Any, as_json: bool, out_file: Path | None) -> None:
    """Rolling-origin backtest of the fill forecast (readings.csv, collections.csv or both)."""
    from binroute.routing.forecast import backtest as run_backtest

    from ..pipeline import decision_rules
    from ..pipeline.forecast import collect_at_s
    from ..pipeline.scenario import load_fill_inputs

    readings, collections, bins, tz = load_fill_inputs(scenario)
    fleet = _fleet(scenario)
    result = run_backtest(
        readings,
        start=start.date(),
        end=end.date(),
        bins=bins,
        tz=tz,
        rules=decision_rules(fleet),
        collect_at_s=collect_at_s(fleet),
        collections=collections,
    )
    out_file = out_file or Path("out") / "backtest" / f"{scenario.resolve().name}.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result.as_dict(), indent=2), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(result.table())
        click.echo(f"wrote {out_file}")
