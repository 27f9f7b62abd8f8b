"""The ``binroute`` command line: the options it hands to the pipeline and the solver."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from binroute.api.cli import main
from binroute.api.pipeline import ScenarioError

from ...helpers import SAMPLE, plan_sample


class _Stop(ScenarioError):
    """Raised by the stand-ins below once they have seen what the command passed on."""


@pytest.mark.parametrize(
    ("flags", "time_limit_s"),
    [([], 30.0), (["--solution-limit", "5"], None), (["--solution-limit", "5", "--time-limit", "7"], 7.0)],
)
def test_plan_time_limit_follows_the_flags(monkeypatch, tmp_path, flags, time_limit_s):
    """No flag gives 30 s; --solution-limit alone gives no time limit (a deterministic run)."""
    import binroute.api.pipeline

    seen = []

    def fake_plan(scn, options, **kwargs):
        seen.append(options)
        raise _Stop("stopped")

    monkeypatch.setattr(binroute.api.pipeline, "plan_scenario", fake_plan)
    args = ["plan", str(SAMPLE), "--date", "2026-11-23", "--out", str(tmp_path), *flags]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2 and seen, run.output
    assert seen[0].time_limit_s == time_limit_s


@pytest.mark.parametrize("horizon", ["0", "40"])
def test_a_horizon_out_of_range_is_refused(tmp_path, horizon):
    """``--horizon`` takes 1 to 14 collection days; anything else is one clear usage error naming the flag."""
    args = ["plan", str(SAMPLE), "--date", "2026-11-23", "--out", str(tmp_path), "--horizon", horizon]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2 and "--horizon" in run.output and "1<=x<=14" in run.output, run.output


def test_the_horizon_reaches_the_plan(monkeypatch, tmp_path):
    """``--horizon 3`` is the run's horizon; without it the fleet's planning decides."""
    import binroute.api.pipeline

    seen = []

    def fake_plan(scn, options, **kwargs):
        seen.append(options)
        raise _Stop("stopped")

    monkeypatch.setattr(binroute.api.pipeline, "plan_scenario", fake_plan)
    for flags in (["--horizon", "3"], []):
        CliRunner().invoke(main, ["plan", str(SAMPLE), "--date", "2026-11-23", "--out", str(tmp_path), *flags])
    assert [o.horizon_days for o in seen] == [3, None]


@pytest.mark.parametrize("command", ["vrplib", "kim"])
@pytest.mark.parametrize(
    ("flags", "time_limit_s"),
    [([], 60.0), (["--solution-limit", "5"], None), (["--solution-limit", "5", "--time-limit", "7"], 7.0)],
)
def test_instance_time_limit_follows_the_flags(monkeypatch, command, flags, time_limit_s):
    """The benchmark commands take the same rule, with their own default of 60 s."""
    import binroute.routing

    seen = []

    def fake_solve(problem, *, limits, params):
        seen.append(limits)
        raise _Stop("stopped")

    monkeypatch.setattr(binroute.routing, "solve", fake_solve)
    file = "tests/data/tiny.vrp" if command == "vrplib" else "tests/data/tiny_kim.txt"
    run = CliRunner().invoke(main, [command, file, *flags])
    assert run.exit_code == 2 and seen, run.output
    assert seen[0].time_limit_s == time_limit_s


@pytest.mark.slow
def test_solution_limit_runs_are_identical(tmp_path):
    """Two runs with the same --solution-limit and seed write the same routes."""
    plans = []
    for name in ("a", "b"):
        plan_sample(tmp_path / name, "--solution-limit", "10", "--seed", "3", "--exports", "none")
        plans.append(json.loads((tmp_path / name / "plan.json").read_text()))
    assert plans[0]["vehicles"] == plans[1]["vehicles"]
    assert plans[0]["objective"] == plans[1]["objective"]
