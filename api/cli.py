"""The ``binroute`` command line."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from geo.geojson import OSM_ATTRIBUTION

from .errors import USER_ERRORS, ScenarioError


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad input into one clear line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    click.echo(f"warning: {message}", err=True)


def _progress(msg: str) -> None:
    click.echo(f"  {msg}", err=True)


@click.group()
@click.version_option(package_name="binroute")
def main() -> None:
    """binroute: plan waste-collection rounds from OSM roads and bin sensors."""


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--date", "plan_date", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Planning day, YYYY-MM-DD."
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Solver time limit, seconds (default 30; none with --solution-limit alone).",
)
@click.option(
    "--solution-limit", type=click.IntRange(min=1), default=None, help="Stop after this many solutions (deterministic)."
)
@click.option("--engine", type=click.Choice(["ortools", "pyvrp", "auto"]), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--threshold",
    type=click.FloatRange(min=1, max=100),
    default=None,
    help="Fill %% at which a bin is due (default from fleet.json, else 80).",
)
@click.option("--no-may", is_flag=True, help="Collect only the bins that must be collected.")
@click.option(
    "--exports",
    default="map,vehicles,csv,gpx,gpkg,png",
    show_default=True,
    help="Extra outputs, comma-separated (or 'none').",
)
@click.option("--tiles", default=None, help="Base-map tile URL for map.html ('none' for no tiles; default OSM).")
@_user_errors
def plan(
    scenario: Path,
    plan_date: Any,
    out_dir: Path,
    time_limit: float,
    solution_limit: int | None,
    engine: str,
    seed: int,
    threshold: float | None,
    no_may: bool,
    exports: str,
    tiles: str | None,
) -> None:
    """Plan one day's collection rounds for a SCENARIO directory."""
    from .mapview import DEFAULT_TILES
    from .pipeline import EXPORTS, PlanOptions, plan_scenario, write_plan

    chosen = () if exports.strip() in ("", "none") else tuple(x.strip() for x in exports.split(","))
    unknown = [x for x in chosen if x not in EXPORTS]
    if unknown:
        raise click.BadParameter(
            f"unknown export(s) {', '.join(unknown)}; choose from {', '.join(EXPORTS)}", param_hint="--exports"
        )
    from .scenario import load_scenario

    click.echo(f"binroute: planning {scenario} for {plan_date.date()}", err=True)
    scn = load_scenario(scenario)
    options = PlanOptions(
        date=plan_date.date(),
        time_limit_s=time_limit if time_limit is not None else (None if solution_limit else 30.0),
        solution_limit=solution_limit,
        engine=engine,
        seed=seed,
        threshold_pct=threshold,
        include_may=not no_may,
    )
    result = plan_scenario(scn, options, progress=_progress)
    tile_url = DEFAULT_TILES if tiles is None else (None if tiles.strip().lower() in ("", "none") else tiles)
    files = write_plan(result, out_dir, exports=chosen, tiles=tile_url)
    for text in result.plan["warnings"]:
        click.echo(f"warning: {text}", err=True)
    t = result.plan["totals"]
    click.echo(
        f"{t['bins']} bins on {t['vehicles_used']} vehicle(s): {t['km']:.1f} km, {t['hours']:.1f} h, "
        f"{t['kg']} kg, {t['tips']} tip(s); {len(result.plan['unserved_required'])} required bin(s) unserved"
    )
    for f in files.values():
        click.echo(f"wrote {f}")
    click.echo(f"Road data {OSM_ATTRIBUTION}")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--at", "at", required=True, help="ISO date and time to forecast for (local time unless an offset is given)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_user_errors
def forecast(scenario: Path, at: str, as_json: bool) -> None:
    """Predicted fill, uncertainty and collect decision per bin at a time."""
    import pandas as pd

    from .pipeline import forecast_bins
    from .scenario import load_fleet, load_readings_only

    readings, bins, tz = load_readings_only(scenario)
    try:
        when = pd.Timestamp(at)
    except ValueError as exc:
        raise ScenarioError(f"--at: {at!r} is not an ISO date and time") from exc
    when = when.tz_localize(tz) if when.tzinfo is None else when
    fleet = load_fleet(scenario / "fleet.json") if (scenario / "fleet.json").is_file() else None
    out = forecast_bins(readings, bins, tz, fleet, when)["bins"]
    if as_json:
        click.echo(json.dumps({"at": when.isoformat(), "bins": out}, indent=2))
        return
    click.echo(f"{'bin':<12} {'fill%':>6} {'p10':>6} {'p90':>6} {'P(over)':>8}  decision  reason")
    for b, r in out.items():

        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.0f}"

        po = "-" if r["p_overflow"] is None else f"{r['p_overflow']:.2f}"
        fills = f"{f(r['fill_pct']):>6} {f(r['fill_p10']):>6} {f(r['fill_p90']):>6}"
        click.echo(f"{b:<12} {fills} {po:>8}  {r['decision']:<8}  {r['reason']}")


@main.command()
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
@_user_errors
def backtest(scenario: Path, start: Any, end: Any, as_json: bool, out_file: Path | None) -> None:
    """Rolling-origin backtest of the fill forecast (needs only readings.csv)."""
    from routing.backtest import backtest as run_backtest

    from .pipeline import decision_rules
    from .scenario import load_fleet, load_readings_only, parse_hhmm

    readings, bins, tz = load_readings_only(scenario)
    fleet = load_fleet(scenario / "fleet.json") if (scenario / "fleet.json").is_file() else None
    rules = decision_rules(fleet)
    collect_at = parse_hhmm(fleet.planning.collect_at) if fleet is not None else 10 * 3600
    result = run_backtest(
        readings, start=start.date(), end=end.date(), bins=bins, tz=tz, rules=rules, collect_at_s=collect_at
    )
    out_file = out_file or Path("out") / "backtest" / f"{scenario.resolve().name}.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result.as_dict(), indent=2), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(result.table())
        click.echo(f"wrote {out_file}")


def _solve_instance(
    file: Path, time_limit: float | None, solution_limit: int | None, engine: str, seed: int
) -> tuple[Any, Any]:
    from routing import Limits, SolveParams, solve
    from routing.instances import read_instance

    instance = read_instance(file)
    solution = solve(
        instance.problem,
        limits=Limits(
            time_limit_s=time_limit if time_limit is not None else (None if solution_limit else 60.0),
            solution_limit=solution_limit,
        ),
        params=SolveParams(engine=engine, seed=seed),
    )
    return instance, solution


_BENCH_OPTIONS = [
    click.argument("file", type=click.Path(path_type=Path)),
    click.option(
        "--time-limit",
        type=click.FloatRange(min=0.1),
        default=None,
        help="Seconds (default 60; none with --solution-limit alone).",
    ),
    click.option("--solution-limit", type=click.IntRange(min=1), default=None),
    click.option("--engine", type=click.Choice(["ortools", "pyvrp", "auto"]), default="auto", show_default=True),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
]


def _bench_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_BENCH_OPTIONS):
        func = option(func)
    return func


@main.command()
@_bench_options
@_user_errors
def vrplib(
    file: Path, time_limit: float | None, solution_limit: int | None, engine: str, seed: int, as_json: bool
) -> None:
    """Solve a VRPLIB CVRP (.vrp) or Solomon VRPTW (.txt) benchmark instance."""
    instance, solution = _solve_instance(file, time_limit, solution_limit, engine, seed)
    routes = [r.bins for r in solution.routes if r.used]
    cost = solution.distance / instance.scale
    out = {
        "instance": instance.name,
        "cost": round(cost, 1) if instance.scale != 1 else int(cost),
        "routes": [[int(b) if b.isdigit() else b for b in route] for route in routes],
        "runtime_s": round(solution.runtime_s, 3),
        "unserved": [u.bin_id for u in solution.unserved],
    }
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(f"{out['instance']}: cost {out['cost']} with {len(routes)} routes in {out['runtime_s']} s")
        for i, route in enumerate(out["routes"], start=1):
            click.echo(f"Route #{i}: {' '.join(map(str, route))}")


@main.command()
@_bench_options
@_user_errors
def kim(
    file: Path, time_limit: float | None, solution_limit: int | None, engine: str, seed: int, as_json: bool
) -> None:
    """Solve a Kim et al. (2006) waste-collection VRPTW instance."""
    from routing.instances import FEET_PER_MILE
    from routing.solution import DEPOT

    instance, solution = _solve_instance(file, time_limit, solution_limit, engine, seed)
    routes = []
    for route in solution.routes:
        if not route.used:
            continue
        visits: list[dict[str, Any]] = [{"id": v.id, "arrival_s": v.arrival_s} for v in route.visits if v.kind != DEPOT]
        if route.break_ is not None:
            at = sum(1 for v in visits if v["arrival_s"] <= route.break_.start_s)
            visits.insert(at, {"lunch_start_s": route.break_.start_s})
        routes.append(visits)
    out = {
        "instance": instance.name,
        "vehicles": len(routes),
        "distance_miles": round(solution.distance / FEET_PER_MILE, 3),
        "routes": routes,
        "runtime_s": round(solution.runtime_s, 3),
        "unserved": [u.bin_id for u in solution.unserved],
    }
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(
            f"{out['instance']}: {out['vehicles']} vehicles, {out['distance_miles']} miles, "
            f"{len(out['unserved'])} stops unserved, {out['runtime_s']} s"
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=8, show_default=True, type=int, help="Request threads.")
@click.option("--solves", default=1, show_default=True, type=int, help="Solves run at the same time.")
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
def serve(host: str, port: int, workers: int, solves: int, database: str | None) -> None:
    """Run the HTTP API under the waitress production server."""
    import waitress

    from .app import create_app

    config: dict[str, Any] = {"SOLVE_WORKERS": solves}
    if database:
        config["DATABASE_URL"] = database
    app = create_app(config)
    click.echo(f"binroute API on http://{host}:{port}/api/v1/docs", err=True)
    waitress.serve(app, host=host, port=port, threads=workers, ident="binroute")


@main.group()
def keys() -> None:
    """Create and revoke API keys."""


def _admin_sessions(database: str | None) -> Any:
    """Database sessions for admin commands: the server's database, without resuming its solves."""
    from .app import create_app

    config: dict[str, Any] = {"RESUME_JOBS": False}
    if database:
        config["DATABASE_URL"] = database
    return create_app(config).extensions["binroute"]["sessions"]


@keys.command("create")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["planner", "viewer"]), required=True)
@click.option("--database", default=None)
def keys_create(name: str, role: str, database: str | None) -> None:
    """Create a key; the secret is printed once."""
    from .db import create_key

    with _admin_sessions(database)() as s:
        row, secret = create_key(s, name, role)
    click.echo(f"{row.id} {role} {secret}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--database", default=None)
def keys_revoke(key_id: str, database: str | None) -> None:
    """Revoke a key by its id."""
    from .db import ApiKey, now

    with _admin_sessions(database)() as s:
        row = s.get(ApiKey, key_id)
        if row is None:
            click.echo(f"error: no key {key_id}", err=True)
            sys.exit(2)
        row.revoked = now()
        s.commit()
    click.echo(f"revoked {key_id}")


if __name__ == "__main__":  # pragma: no cover
    main()
