"""collections.csv: validation that names file, line and field; collections-only and mixed scenarios end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from binroute.api.cli import main
from binroute.api.pipeline import ScenarioError
from binroute.api.pipeline.scenario import load_collections, load_readings
from binroute.routing.forecast import CANDIDATES

from ...helpers import SAMPLE

HEADER = "bin_id,collected_at,fill_pct,kg\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + "B1,yesterday,80,\n", "collections.csv line 2: collected_at 'yesterday' is not an ISO 8601"),
        (HEADER + "B1,2026-11-01T08:00:00Z,80,\nB2,2026-11-01T08:00:00Z,130,\n", "line 3: fill_pct 130 is above 100"),
        (HEADER + "B1,2026-11-01T08:00:00Z,-4,\n", "line 2: fill_pct -4 is below 0"),
        (HEADER + "B1,2026-11-01T08:00:00Z,full,\n", "line 2: fill_pct 'full' is not a number"),
        (HEADER + "B1,2026-11-01T08:00:00Z,50,-1\n", "line 2: kg -1 is below 0"),
        (HEADER + ",2026-11-01T08:00:00Z,50,\n", "line 2: bin_id is empty"),
        (HEADER + "B1,,50,\n", "line 2: collected_at is empty"),
        ("bin_id,collected_at,fill_pct,colour\nB1,2026-11-01T08:00:00Z,50,red\n", "line 1: unknown column(s) colour"),
        ("bin_id,fill_pct\nB1,50\n", "missing column(s) collected_at"),
    ],
)
def test_bad_collections_rows_name_file_line_and_field(tmp_path, text, message):
    """Each bad row gives one error naming collections.csv, the line and the field."""
    path = tmp_path / "collections.csv"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"collections\.csv") as info:
        load_collections(path, "Europe/Helsinki")
    assert message in str(info.value)


def test_a_log_with_one_collection_per_bin_is_refused_by_name(tmp_path):
    """A log alone where no bin was collected twice cannot give a fill rate: one clear error, naming file and field."""
    from binroute.api.pipeline.scenario import load_fill_data

    (tmp_path / "collections.csv").write_text(HEADER + "B1,2026-11-01T08:00:00Z,80,\nB2,2026-11-02T08:00:00Z,40,\n")
    with pytest.raises(ScenarioError, match=r"collections\.csv line 2: bin_id B1 has one collection, as has every bin"):
        load_fill_data(tmp_path, "Europe/Helsinki")
    (tmp_path / "collections.csv").write_text(HEADER + "B1,2026-11-01T08:00:00Z,80,\nB1,2026-11-03T08:00:00Z,40,\n")
    readings, collections = load_fill_data(tmp_path, "Europe/Helsinki")
    assert readings.empty and collections is not None and len(collections) == 2


def test_collections_times_and_blank_fill(tmp_path):
    """Times without an offset are local; a blank fill is unknown; kg is optional."""
    path = tmp_path / "collections.csv"
    path.write_text("bin_id,collected_at,fill_pct\nB1,2026-11-01T08:00:00,\nB2,2026-11-01T08:00:00Z,75\n")
    df = load_collections(path, "Europe/Helsinki")
    assert df["collected_at"].iloc[0] == pd.Timestamp("2026-11-01T06:00:00Z")
    assert np.isnan(df["fill_pct"].iloc[0]) and df["fill_pct"].iloc[1] == 75
    assert df["kg"].isna().all()


def collections_from_readings(readings: pd.DataFrame) -> pd.DataFrame:
    """A collection log derived from sensor readings: each large drop is an emptying, with the level before it."""
    df = readings.sort_values(["bin_id", "timestamp"])
    before = df.groupby("bin_id")["fill_pct"].shift(1)
    drop = (before - df["fill_pct"]) >= 30
    out = pd.DataFrame(
        {
            "bin_id": df["bin_id"][drop],
            "collected_at": df["timestamp"][drop].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fill_pct": before[drop].clip(0, 100).round(),
        }
    )
    return out


def sample_copy(tmp_path: Path, *, keep_readings: bool) -> Path:
    """The sample scenario with a collections log derived from its readings (and its readings kept or not)."""
    scn = tmp_path / "scn"
    scn.mkdir()
    for name in ("bins.csv", "fleet.json", "network.osm.pbf"):
        shutil.copy(SAMPLE / name, scn / name)
    readings = load_readings(SAMPLE / "readings.csv", "Europe/Helsinki")
    collections_from_readings(readings).to_csv(scn / "collections.csv", index=False)
    if keep_readings:
        # Mixed: sensors on half the bins, the log for the rest.
        ids = sorted(readings["bin_id"].unique())
        part = readings[readings["bin_id"].isin(ids[::2])]
        part.assign(timestamp=part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            scn / "readings.csv", index=False
        )
    return scn


@pytest.mark.slow
@pytest.mark.parametrize("keep_readings", [False, True], ids=["collections-only", "mixed"])
def test_collections_scenarios_plan_end_to_end(tmp_path, keep_readings):
    """A scenario with collections only, or mixed with readings, plans end to end."""
    scn = sample_copy(tmp_path, keep_readings=keep_readings)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "binroute.api.cli", "plan", str(scn), "--date", "2026-11-23", "--out", str(out)]
    cmd += ["--solution-limit", "5", "--exports", "none"]  # auto: 356 bins due fill the fleet
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    plan = json.loads((out / "plan.json").read_text())
    assert plan["totals"]["bins"] > 0 and not plan["unserved_required"]


@pytest.mark.slow
def test_forecast_json_names_the_model_and_backtest_runs_on_a_log(tmp_path):
    """forecast --json gives each bin its model; backtest works on a collections-only scenario."""
    scn = sample_copy(tmp_path, keep_readings=False)
    run = CliRunner().invoke(main, ["forecast", str(scn), "--at", "2026-11-23T10:00", "--json"])
    assert run.exit_code == 0, run.output
    bins = json.loads(run.output)["bins"]
    assert all("model" in b for b in bins.values())
    assert {b["model"] for b in bins.values() if b["fill_pct"] is not None} <= set(CANDIDATES)
    args = [
        "backtest",
        str(scn),
        "--from",
        "2026-11-16",
        "--to",
        "2026-11-19",
        "--json",
        "--out",
        str(tmp_path / "b.json"),
    ]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    result = json.loads(run.output)
    assert set(result["shapes"]) == {"log"}
    assert result["horizons"]["1"]["model"]["n"] > 0


def test_scenario_without_fill_data_is_an_error(tmp_path):
    """A scenario needs readings.csv, collections.csv or both."""
    scn = tmp_path / "scn"
    scn.mkdir()
    for name in ("bins.csv", "fleet.json"):
        shutil.copy(SAMPLE / name, scn / name)
    run = CliRunner().invoke(main, ["forecast", str(scn), "--at", "2026-11-23T10:00"])
    assert run.exit_code == 2 and "readings.csv, collections.csv or both" in run.output
