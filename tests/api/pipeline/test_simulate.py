"""Policy simulation: the trace replay by hand, the policies' choices, the CLI's errors and a short run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from binroute.api.pipeline import load_scenario
from binroute.api.pipeline.simulate.policies import PolicyError, bins_due, parse_policy
from binroute.api.pipeline.simulate.replay import Replay, Trace, rises, traces_from_readings
from binroute.api.pipeline.simulate.report import simulation_html
from binroute.api.pipeline.simulate.run import SimOptions, policies_from, simulate

from .browser import BROWSER
from .browser import dom as browser_dom

H = 3600 * 10**9  # an hour in ns


def _readings(rows):
    return pd.DataFrame(
        {
            "bin_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] * H for r in rows], utc=True),
            "fill_pct": [float(r[2]) for r in rows],
        }
    )


def test_rises_ignore_noise_and_restart_after_an_emptying():
    """Rises add up; a dip of a few points is noise; a big drop is an emptying whose new level is all new waste."""
    assert rises([10, 30, 28, 40, 5, 25]).tolist() == [10, 20, 0, 10, 5, 20]


def test_replay_two_bins_by_hand():
    """Bin a gains 3 points an hour; b too, but was really emptied at hour 10: unemptied it overflows.

    A policy that empties b at hour 15 (and never a): levels and overflows worked out by hand.
    """
    readings = _readings([("a", 0, 40), ("a", 10, 70), ("a", 20, 100), ("b", 0, 90), ("b", 10, 20), ("b", 20, 50)])
    traces = traces_from_readings(readings)
    assert traces["a"].rise.tolist() == [40, 30, 30] and traces["b"].rise.tolist() == [90, 20, 30]
    replay = Replay(traces, start=0)
    day1 = replay.day(0, 12 * H, {})
    assert day1.levels == pytest.approx({"a": 76.0, "b": 116.0})  # b: 90 + 20 by hour 10, + 6
    assert day1.overflowing == ["b"]
    day2 = replay.day(12 * H, 20 * H, {"b": 15 * H})
    assert day2.collected == pytest.approx({"b": 125.0})  # emptied at 125%: still an overflow that day
    assert day2.levels == pytest.approx({"a": 100.0, "b": 15.0})  # b: 5 h at 3 %/h since
    assert day2.overflowing == ["b"]  # a at exactly 100% is full, not overflowing
    day3 = replay.day(20 * H, 30 * H, {})
    assert day3.overflowing == [] and day3.levels == pytest.approx({"a": 100.0, "b": 15.0})  # no history after
    # What a policy sees: the simulated readings, so b reads low after its emptying.
    assert replay.last_seen(20 * H) == pytest.approx({"a": 100.0, "b": 15.0})
    assert replay.last_seen(10 * H) == pytest.approx({"a": 70.0, "b": 100.0})  # b's 110% read as 100


def test_replay_ignores_a_sensor_spike():
    """A lone reading of 100 between 44 and 48 is a sensor error: no phantom waste, no phantom overflow.

    Taken at face value it would be 56 points of waste, an emptying and 48 more: 152% by hour 16.
    """
    readings = _readings([("a", 0, 40), ("a", 4, 44), ("a", 8, 100), ("a", 12, 48), ("a", 16, 52)])
    replay = Replay(traces_from_readings(readings), start=0)
    day = replay.day(0, 16 * H, {})
    assert day.overflowing == [] and day.levels == pytest.approx({"a": 52.0})


def test_replay_adds_the_waste_a_full_sensor_hides():
    """A bin that filled at 4 points an hour and then read 100 for 20 h kept receiving 4 an hour: 180% by hour 40.

    Its rate is that of its intervals starting below full (30 + 50 points in 20 h); the replay without the
    estimate would hold it at exactly 100%, full but never overflowing.
    """
    readings = _readings([("a", 0, 20), ("a", 10, 50), ("a", 20, 100), ("a", 30, 99), ("a", 40, 100)])
    traces = traces_from_readings(readings)
    assert traces["a"].rise.tolist() == pytest.approx([20, 30, 50, 40, 40])
    day = Replay(traces, start=0).day(0, 40 * H, {})
    assert day.overflowing == ["a"] and day.levels == pytest.approx({"a": 180.0})


def test_replay_starts_from_the_real_level():
    """At the start a bin holds its last real reading plus the share of the next rise received since."""
    trace = Trace(np.array([0, 10 * H]), np.array([20.0, 10.0]), np.array([20.0, 30.0]))
    replay = Replay({"x": trace}, start=5 * H)
    assert replay.level_at("x", 5 * H) == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("policy", "day", "chosen"),
    [
        ("timetable:mon,thu", date(2026, 11, 23), ["a", "b", "c"]),  # a Monday
        ("timetable:mon,thu", date(2026, 11, 24), []),
        ("timetable:Thursday", date(2026, 11, 26), ["a", "b", "c"]),
        ("threshold:80", date(2026, 11, 24), ["b", "c"]),
        ("threshold:95", date(2026, 11, 24), ["c"]),
    ],
)
def test_timetable_and_threshold_choose_their_bins(policy, day, chosen):
    """Timetable: every bin on its weekdays only; threshold: bins read at or above it, and bins never read."""
    seen = {"a": 50.0, "b": 80.0, "c": float("nan")}
    assert bins_due(parse_policy(policy), day, seen) == chosen


@pytest.mark.parametrize(
    "text",
    ["sometimes", "timetable:", "timetable:mon,funday", "threshold:0", "threshold:x", "predictive:0", "predictive:40"],
)
def test_bad_policy_names_what_is_wrong(text):
    """A policy not understood is a PolicyError that quotes it."""
    with pytest.raises(PolicyError, match="policy"):
        parse_policy(text)


def test_predictive_takes_a_horizon():
    """``predictive:3`` looks three collection days ahead; plain ``predictive`` leaves it to the fleet."""
    assert parse_policy("predictive:3").horizon_days == 3
    assert parse_policy("predictive").horizon_days is None


def test_the_same_policy_twice_is_an_error():
    """Policies are compared by their normalised names: the same one twice is refused."""
    assert [p.name for p in policies_from(["predictive", "Threshold:80"])] == ["predictive", "threshold:80"]
    with pytest.raises(PolicyError, match="the same policy is given twice"):
        policies_from(["predictive", " Predictive"])


def _cli(*args):
    cmd = [sys.executable, "-m", "binroute.api.cli", "simulate", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-01", "--to", "2026-11-02", "--policy", "weekly"], "policy 'weekly' not understood"),
        (["--from", "2026-09-29", "--to", "2026-09-30", "--policy", "predictive"], "too little history"),
        (["--from", "2026-11-20", "--to", "2026-12-02", "--policy", "predictive"], "after the last reading"),
        (["--from", "2026-11-03", "--to", "2026-11-02", "--policy", "predictive"], "before --from"),
    ],
)
def test_cli_errors_exit_2_with_one_line(sample_dir, tmp_path, args, message):
    """Bad policies and dates are one clear error line and exit code 2."""
    run = _cli(sample_dir, *args, "--out", tmp_path)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_simulate_sample_two_days(sample_dir, tmp_path):
    """Two days, two policies: per-day figures sum to the totals; the report is one self-contained page."""
    run = _cli(
        sample_dir, "--from", "2026-11-02", "--to", "2026-11-03", "--policy", "timetable:mon",
        "--policy", "threshold:80", "--solution-limit", "5", "--engine", "ortools", "--out", tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "simulation.json").read_text())
    assert list(result["policies"]) == ["timetable:mon", "threshold:80"]
    timetable = result["policies"]["timetable:mon"]
    monday, tuesday = timetable["days"]
    assert monday["lifts"] + monday["due_not_served"] == 360 and tuesday["lifts"] == 0
    for data in result["policies"].values():
        assert len(data["days"]) == 2
        for key in ("km", "kg_co2", "cost", "lifts", "overflow_bin_days", "bins_at_risk", "hours", "paid_hours"):
            assert data["totals"][key] == pytest.approx(sum(d[key] for d in data["days"]), abs=0.01), key
        assert data["totals"]["crew_days"] == sum(d["crews_used"] for d in data["days"])
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 5 and "threshold:80" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "<script" not in page


def test_report_without_days_still_renders():
    """An empty policy list gives a page with the table header and no charts failing."""
    page = simulation_html({"scenario": "s", "from": "2026-01-01", "to": "2026-01-01", "policies": {}})
    assert "binroute simulation" in page


@pytest.fixture(scope="module")
def tiny(sample_dir):
    """The sample cut to its first 20 bins and their readings."""
    scn = load_scenario(sample_dir)
    bins = scn.bins.head(20).reset_index(drop=True)
    readings = scn.readings[scn.readings["bin_id"].isin(bins["bin_id"])].reset_index(drop=True)
    return dataclasses.replace(scn, bins=bins, readings=readings)


def _run(scn, jobs):
    """Two days of two policies, a few solutions a day; the result and the progress steps seen."""
    steps = []
    options = SimOptions.given(date(2026, 11, 2), date(2026, 11, 3), None, 3, "ortools", 0)
    result = simulate(scn, policies_from(["predictive", "threshold:70"]), options, jobs=jobs, progress=steps.append)
    return result, steps


@pytest.fixture(scope="module")
def in_parallel(tiny):
    return _run(tiny, 2)


@pytest.mark.slow
def test_policies_in_processes_give_the_sequential_result(tiny, in_parallel):
    """Each policy in its own process: the same simulation.json as one process, and every day reported in order."""
    sequential, seq_steps = _run(tiny, 1)
    parallel, par_steps = in_parallel
    assert parallel == sequential
    for steps in (seq_steps, par_steps):
        assert str(steps[0]).startswith("roads:")
        for policy in ("predictive", "threshold:70"):
            mine = [s for s in steps if s.policy == policy]
            assert [(s.done, s.total) for s in mine] == [(1, 2), (2, 2)]
            assert str(mine[0]).startswith(f"{policy}: day 1 of 2, 2026-11-02:")


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")
def test_report_in_a_real_browser(in_parallel, tmp_path):
    """Headless Chromium opens report.html with no console errors: five charts, a line per policy in each."""
    page = tmp_path / "report.html"
    page.write_text(simulation_html(in_parallel[0]), encoding="utf-8")
    dom = browser_dom(page, tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert dom.stdout.count("<svg") == 5 and dom.stdout.count("<polyline") == 10
    assert "Cumulative km" in dom.stdout and "threshold:70" in dom.stdout and "<table>" in dom.stdout


def test_peeking_at_the_future_does_not_move_the_replay():
    """What a clairvoyant reads (a bin's level later, left alone) leaves the replay where it was."""
    readings = _readings([("a", 0, 40), ("a", 10, 70), ("a", 20, 100)])
    replay = Replay(traces_from_readings(readings), start=0)
    assert replay.peek("a", 20 * H) == pytest.approx(100.0)
    assert replay.readings["a"] == []
    day1 = replay.day(0, 12 * H, {"a": 5 * H})
    assert day1.collected == pytest.approx({"a": 55.0}) and day1.levels == pytest.approx({"a": 21.0})
    assert replay.peek("a", 20 * H) == pytest.approx(45.0)  # emptied at 5 h: 8 h more at 3 %/h


def test_clairvoyant_is_a_policy_without_arguments():
    assert parse_policy("Clairvoyant").kind == "clairvoyant"
    with pytest.raises(PolicyError, match="clairvoyant"):
        parse_policy("clairvoyant:2")
