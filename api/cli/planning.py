"""``binroute plan``: one day's collection rounds for a scenario directory, written as files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..pipeline.options import (
    DEFAULT_TIME_LIMIT_S,
    EXPORTS,
    MAX_HORIZON,
    ROUNDS,
    THRESHOLD_ABOVE,
    THRESHOLD_MAX,
    PlanOptions,
    time_limit_for,
)
from .console import progress, user_errors
from .flags import solver_flags

if TYPE_CHECKING:
    from ..pipeline.plan import Progress


def _exports(text: str) -> tuple[str, ...]:
    """The ``--exports`` list, checked against the known exports."""
    chosen = () if text.strip() in ("", "none") else tuple(x.strip() for x in text.split(","))
    unknown = [x for x in chosen if x not in EXPORTS]
    if unknown:
        raise click.BadParameter(
            f"unknown export(s) {', '.join(unknown)}; choose from {', '.join(EXPORTS)}", param_hint="--exports"
        )
    return chosen


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--date", "plan_date", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Planning day, YYYY-MM-DD."
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@solver_flags(default_time_limit_s=DEFAULT_TIME_LIMIT_S)
@click.option(
    "--threshold",
    type=click.FloatRange(min=THRESHOLD_ABOVE, max=THRESHOLD_MAX, min_open=True),
    default=None,
    help="Fill % at which a bin is due (default from fleet.json, else 80).",
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1, max=MAX_HORIZON),
    default=None,
    help="Collection days looked ahead when choosing each bin's day (default from fleet.json, else 1).",
)
@click.option("--no-may", is_flag=True, help="Collect only the bins that must be collected.")
@click.option(
    "--exports",
    default=",".join(EXPORTS),
    show_default=True,
    help="Extra outputs, comma-separated (or 'none').",
)
@click.option("--tiles", default=None, help="Base-map tile URL for map.html ('none' for no tiles; default OSM).")
@click.option(
    "--like",
    "like_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="An earlier plan's output directory: keep each bin with the crew that served it there.",
)
@click.option(
    "--rounds",
    type=click.Choice(ROUNDS),
    default="districts",
    show_default=True,
    help="districts: one compact district per crew; free: one search over the whole day.",
)
@user_errors
def plan(
    scenario: Path,
    plan_date: Any,
    out_dir: Path,
    time_limit: float | None,
    solution_limit: int | None,
    engine: str,
    seed: int,
    threshold: float | None,
    horizon: int | None,
    no_may: bool,
    exports: str,
    tiles: str | None,
    like_dir: Path | None,
    rounds: str,
) -> None:
    """Plan one day's collection rounds for a SCENARIO directory."""
    from binroute.geo import OSM_ATTRIBUTION

    from ..pipeline import load_scenario, plan_scenario, write_plan
    from ..pipeline.areas import load_like
    from ..pipeline.mapview import DEFAULT_TILES

    chosen = _exports(exports)
    click.echo(f"binroute: planning {scenario} for {plan_date.date()}", err=True)
    scn = load_scenario(scenario)
    options = PlanOptions(
        date=plan_date.date(),
        time_limit_s=time_limit_for(time_limit, solution_limit),
        solution_limit=solution_limit,
        engine=engine,
        seed=seed,
        threshold_pct=threshold,
        include_may=not no_may,
        horizon_days=horizon,
        rounds=rounds,
        usual_crews=load_like(like_dir) if like_dir is not None else None,
        like=str(like_dir) if like_dir is not None else None,
    )
    result = plan_scenario(scn, options, progress=_show_progress)
    tile_url = DEFAULT_TILES if tiles is None else (None if tiles.strip().lower() in ("", "none") else tiles)
    files = write_plan(result, out_dir, exports=chosen, tiles=tile_url)
    for text in result.plan["warnings"]:
        click.echo(f"warning: {text}", err=True)
    t = result.plan["totals"]
    estimate = " (estimate)" if result.plan["distances"] == "estimate" else ""
    click.echo(
        f"{t['bins']} bins on {t['vehicles_used']} vehicle(s): {t['km']:.1f} km{estimate}, "
        f"{t['hours']:.1f} h{estimate}, "
        f"{t['kg']} kg, {t['tips']} tip(s); {len(result.plan['unserved_required'])} required bin(s) unserved"
    )
    short = result.plan.get("fleet_short")
    if short:
        click.echo(f"fleet too small: {short['message']}")
    changes = result.plan.get("crew_changes")
    if changes:
        click.echo(
            f"usual crews: {changes['kept']} of {changes['bins_with_usual_crew']} bins kept theirs, "
            f"{changes['changed']} changed"
        )
    for f in files.values():
        click.echo(f"wrote {f}")
    if result.plan["distances"] == "estimate":
        click.echo("km and hours are estimates: no road network (great-circle distances x the detour factor)")
    else:
        click.echo(f"Road data {OSM_ATTRIBUTION}")


def _show_progress(event: Progress) -> None:
    """The pipeline's line for a stage, when it has one, on stderr."""
    if event.message:
        progress(event.message)
