"""``binroute vrplib`` and ``binroute kim``: solve a published benchmark instance and print its routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..pipeline.options import INSTANCE_TIME_LIMIT_S, time_limit_for
from .console import user_errors
from .flags import solver_flags

if TYPE_CHECKING:
    from binroute.routing import Instance, Solution


def _instance_flags(func: Any) -> Any:
    """The instance file argument, the solver flags and ``--json``."""
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    func = solver_flags(default_time_limit_s=INSTANCE_TIME_LIMIT_S)(func)
    return click.argument("file", type=click.Path(path_type=Path))(func)


def _solve_instance(
    file: Path, *, time_limit: float | None, solution_limit: int | None, engine: str, seed: int
) -> tuple[Instance, Solution]:
    """Read an instance file and solve it with the command's limits.

    Literature instances score km and vehicles, not crews' areas: ``auto`` searches the whole day at once.
    """
    from binroute.routing import Limits, SolveParams, read_instance, solve

    instance = read_instance(file)
    solution = solve(
        instance.problem,
        limits=Limits(
            time_limit_s=time_limit_for(time_limit, solution_limit, default=INSTANCE_TIME_LIMIT_S),
            solution_limit=solution_limit,
        ),
        params=SolveParams(engine=engine, seed=seed, rounds="free"),
    )
    return instance, solution


@click.command()
@_instance_flags
@user_errors
def vrplib(
    file: Path, time_limit: float | None, solution_limit: int | None, engine: str, seed: int, as_json: bool
) -> None:
    """Solve a VRPLIB CVRP (.vrp) or Solomon VRPTW (.txt) benchmark instance."""
    instance, solution = _solve_instance(
        file, time_limit=time_limit, solution_limit=solution_limit, engine=engine, seed=seed
    )
    routes = [r.bins for r in solution.routes if r.used]
    cost = solution.distance / instance.scale
    out: dict[str, Any] = {
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


@click.command()
@_instance_flags
@user_errors
def kim(
    file: Path, time_limit: float | None, solution_limit: int | None, engine: str, seed: int, as_json: bool
) -> None:
    """Solve a Kim et al. (2006) waste-collection VRPTW instance."""
    from binroute.routing import DEPOT, FEET_PER_MILE

    instance, solution = _solve_instance(
        file, time_limit=time_limit, solution_limit=solution_limit, engine=engine, seed=seed
    )
    routes = []
    for route in solution.routes:
        if not route.used:
            continue
        visits: list[dict[str, Any]] = [{"id": v.id, "arrival_s": v.arrival_s} for v in route.visits if v.kind != DEPOT]
        if route.break_ is not None:
            at = sum(1 for v in visits if v["arrival_s"] <= route.break_.start_s)
            visits.insert(at, {"lunch_start_s": route.break_.start_s})
        routes.append(visits)
    out: dict[str, Any] = {
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
