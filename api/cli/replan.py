"""``binroute replan``: re-plan the rest of a plan's day on a running service (``POST /plans/{id}/replan``)."""

from __future__ import annotations

import json
import sys

import click

from ..service.client import call


@click.command()
@click.argument("plan_id")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True, help="The service's base URL.")
@click.option("--key", envvar="BINROUTE_API_KEY", required=True, help="A planner key (default: BINROUTE_API_KEY).")
@click.option("--at", default=None, help="Re-plan as of this time, ISO 8601 (default: now).")
@click.option(
    "--time-limit",
    type=float,
    default=None,
    help="Seconds of each solve (default: scaled to the stops left, 1 to 5 s).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--keep-unless-saves",
    type=click.FloatRange(0, 100),
    default=10.0,
    show_default=True,
    help="Move stops between crews only if that saves this % of the cost.",
)
def replan(
    plan_id: str, url: str, key: str, at: str | None, time_limit: float | None, seed: int, keep_unless_saves: float
) -> None:
    """Re-plan the rest of PLAN_ID's day from what its crews reported; print the change per crew."""
    body: dict[str, object] = {"time_limit_s": time_limit, "seed": seed, "keep_unless_saves_pct": keep_unless_saves}
    if at is not None:
        body["at"] = at
    status, raw = call(f"{url.rstrip('/')}/api/v1/plans/{plan_id}/replan", key, json.dumps(body).encode())
    answer = json.loads(raw or b"{}")
    if status != 201:
        error = answer.get("error", {})
        details = "; ".join(f"{d['field']}: {d['message']}" for d in error.get("details") or [] if "field" in d)
        click.echo(f"error: {status} {error.get('message', raw.decode(errors='replace'))} {details}".rstrip(), err=True)
        sys.exit(2 if status in (400, 404, 409, 422) else 1)
    click.echo(
        f"version {answer['version']} ({answer['plan']['id']}): {answer['choice']}, "
        f"{answer['kept_share']:.0%} of remaining stops kept their crew, "
        f"{'feasible' if answer['feasible'] else 'NOT feasible'}, {answer['seconds']:.1f} s"
    )
    click.echo(f"{'crew':<12}{'stops':>6}{'kept':>6}{'in':>5}{'out':>5}{'added':>7}{'dropped':>9}")
    for c in answer["changes"]:
        click.echo(
            f"{c['vehicle_id']:<12}{c['stops']:>6}{c['kept']:>6}{c['moved_in']:>5}{c['moved_out']:>5}"
            f"{c['added']:>7}{c['dropped']:>9}"
        )
    for why, bins in (answer.get("unserved_why") or {"": answer["unserved_required"]}).items():
        click.echo(f"required bins left ({why or 'no reason given'}): {', '.join(bins)}")
    if answer.get("fleet_short"):
        click.echo(answer["fleet_short"])
