"""``binroute simulate``: replay past days under collection policies and compare what each costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .console import progress, user_errors
from .flags import solver_flags


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--from", "start", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="First day.")
@click.option("--to", "end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day.")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    required=True,
    help=(
        "predictive (or predictive:DAYS for a horizon), timetable:mon,thu, threshold:80, "
        "(with a collection log) as-logged, or clairvoyant (reads the replay's future: the bound a "
        "perfect forecast reaches); give --policy once per policy."
    ),
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Policies simulated at once, each in its own process (default: the number of cores).",
)
@solver_flags(default_time_limit_s=0)
@user_errors
def simulate_command(
    scenario: Path,
    start: Any,
    end: Any,
    policies: tuple[str, ...],
    out_dir: Path,
    jobs: int | None,
    time_limit: float | None,
    solution_limit: int | None,
    engine: str,
    seed: int,
) -> None:
    """Simulate collection policies on a SCENARIO's real fill history from --from to --to.

    Each day is planned like `binroute plan`; without --time-limit or --solution-limit
    each day stops after 30 solutions (deterministic). Policies run side by side on
    --jobs processes with the same result as one; progress (policy, day k of n) on stderr.
    """
    from ..pipeline import load_scenario
    from ..pipeline.errors import ScenarioError
    from ..pipeline.simulate.policies import PolicyError
    from ..pipeline.simulate.report import simulation_html
    from ..pipeline.simulate.run import SimOptions, policies_from, simulate

    try:
        parsed = policies_from(policies)
    except PolicyError as exc:
        raise ScenarioError(f"--policy: {exc}") from exc
    scn = load_scenario(scenario)
    options = SimOptions.given(start.date(), end.date(), time_limit, solution_limit, engine, seed)
    result = simulate(scn, parsed, options, jobs=jobs, progress=lambda step: progress(str(step)))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "simulation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out_dir / "report.html").write_text(simulation_html(result), encoding="utf-8")
    estimate = " (estimate)" if result["distances"] == "estimate" else ""
    for name, data in result["policies"].items():
        t = data["totals"]
        click.echo(
            f"{name}: {t['crew_days']:.0f} crew-days, {t['km']:.0f} km{estimate}, {t['kg_co2']:.0f} kg CO2{estimate}, "
            f"cost {t['cost']:.0f}{estimate}, {t['lifts']:.0f} lifts ({t['wasted_lifts']:.0f} below half full), "
            f"{t['overflow_bin_days']:.0f} overflowing bin-days"
        )
    if estimate:
        click.echo("km, CO2 and cost are estimates: no road network (great-circle distances x the detour factor)")
    click.echo(f"wrote {out_dir / 'simulation.json'}")
    click.echo(f"wrote {out_dir / 'report.html'}")
