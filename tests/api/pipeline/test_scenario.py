"""Scenario files: clear errors that name file, line and field."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from binroute.api.pipeline import ScenarioError
from binroute.api.pipeline.scenario import (
    find_network,
    load_bins,
    load_fleet,
    load_readings,
    load_scenario,
    parse_hhmm,
    parse_timestamps,
)
from binroute.geo import OSM_SUFFIXES

BINS_HEADER = "bin_id,lon,lat,stream,capacity_l,service_s,tw_start,tw_end\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("B1,24.9,60.1,general,-5,,,", "line 2: capacity_l"),
        ("B1,224.9,60.1,general,240,,,", "line 2: lon"),
        ("B1,24.9,abc,general,240,,,", "line 2: lat"),
        ("B1,24.9,60.1,,240,,,", "line 2: stream"),
        ("B1,24.9,60.1,general,240,,09:00,", "both tw_start and tw_end"),
        ("B1,24.9,60.1,general,240,,10:00,09:00", "tw_end is before tw_start"),
        ("B1,24.9,60.1,general,240,,9am,10:00", "line 2: tw_start"),
    ],
)
def test_bad_bin_rows(tmp_path, row, message):
    """Each bad field is reported with the file and its line."""
    path = write(tmp_path, "bins.csv", BINS_HEADER + row + "\n")
    with pytest.raises(ScenarioError, match=message) as err:
        load_bins(path)
    assert "bins.csv" in str(err.value)


def test_duplicate_bin_ids(tmp_path):
    path = write(tmp_path, "bins.csv", BINS_HEADER + "B1,24.9,60.1,general,240,,,\nB1,24.9,60.1,general,240,,,\n")
    with pytest.raises(ScenarioError, match=r"line 3: bin_id 'B1' already used on line 2"):
        load_bins(path)


def test_missing_column(tmp_path):
    path = write(tmp_path, "bins.csv", "bin_id,lon,lat\nB1,1,2\n")
    with pytest.raises(ScenarioError, match="missing column"):
        load_bins(path)


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        ({"depots": [], "vehicles": []}, "depots"),
        (
            {
                "depots": [{"id": "D", "lon": 0, "lat": 0}],
                "vehicles": [
                    {
                        "id": "V",
                        "depot": "X",
                        "streams": ["g"],
                        "capacity_kg": 1,
                        "capacity_l": 1,
                        "shift_start": "06:00",
                        "shift_end": "14:00",
                    }
                ],
            },
            "depot 'X'",
        ),
        (
            {
                "depots": [{"id": "D", "lon": 0, "lat": 0}],
                "vehicles": [
                    {
                        "id": "V",
                        "depot": "D",
                        "streams": ["g"],
                        "capacity_kg": 0,
                        "capacity_l": 1,
                        "shift_start": "06:00",
                        "shift_end": "14:00",
                    }
                ],
            },
            "vehicles.0.capacity_kg",
        ),
        (
            {
                "depots": [{"id": "D", "lon": 0, "lat": 0}],
                "vehicles": [
                    {
                        "id": "V",
                        "depot": "D",
                        "streams": ["g"],
                        "capacity_kg": 1,
                        "capacity_l": 1,
                        "shift_start": "16:00",
                        "shift_end": "14:00",
                    }
                ],
            },
            "shift_end must be after",
        ),
        (
            {"timezone": "Mars/Olympus", "depots": [{"id": "D", "lon": 0, "lat": 0}], "vehicles": []},
            "unknown time zone",
        ),
        ({"depots": [{"id": "D", "lon": 0, "lat": 0, "colour": "red"}], "vehicles": []}, "depots.0.colour"),
    ],
)
def test_bad_fleet(tmp_path, fleet, message):
    """fleet.json errors name the field path."""
    path = write(tmp_path, "fleet.json", json.dumps(fleet))
    with pytest.raises(ScenarioError, match=message):
        load_fleet(path)


def test_fleet_not_json(tmp_path):
    path = write(tmp_path, "fleet.json", '{"depots": [\n  oops]')
    with pytest.raises(ScenarioError, match=r"fleet\.json: line 2: not valid JSON"):
        load_fleet(path)


def test_readings_bad_timestamp_and_fill(tmp_path):
    """A bad timestamp or a non-number fill names the line."""
    bad_ts = write(tmp_path, "r1.csv", "bin_id,timestamp,fill_pct\nB1,2026-11-01T10:00:00Z,10\nB1,yesterday,20\n")
    with pytest.raises(ScenarioError, match=r"line 3: 'yesterday'"):
        load_readings(bad_ts, "UTC")
    bad_fill = write(tmp_path, "r2.csv", "bin_id,timestamp,fill_pct\nB1,2026-11-01T10:00:00Z,ten\n")
    with pytest.raises(ScenarioError, match="line 2: fill_pct 'ten'"):
        load_readings(bad_fill, "UTC")


def test_timestamps_in_mixed_zones():
    """Offsets, Z and naive local times all land on the right UTC instant."""
    got = parse_timestamps(
        pd.Series(["2026-11-01T12:00:00+02:00", "2026-11-01T10:00:00Z", "2026-11-01 12:00"]), "Europe/Helsinki", "test"
    )
    noon_helsinki = pd.Timestamp("2026-11-01T10:00:00Z")
    assert got.tolist() == [noon_helsinki, noon_helsinki, noon_helsinki]


@pytest.mark.parametrize("suffix", OSM_SUFFIXES)
def test_network_found_for_every_osm_suffix(tmp_path, suffix):
    """A scenario's network may be network.osm, network.osm.bz2 or network.osm.pbf: geo's one list."""
    (tmp_path / f"network{suffix}").write_bytes(b"")
    assert find_network(tmp_path) == tmp_path / f"network{suffix}"


def test_hhmm():
    assert parse_hhmm("06:30") == 23400 and parse_hhmm("24:00") == 86400
    with pytest.raises(ValueError):
        parse_hhmm("25:00")


def test_scenario_json_points_at_network(tmp_path, sample_dir):
    """A scenario may keep its network elsewhere via scenario.json."""
    scn = tmp_path / "s"
    scn.mkdir()
    for name in ("bins.csv", "fleet.json"):
        shutil.copy(sample_dir / name, scn / name)
    (scn / "readings.csv").write_text("bin_id,timestamp,fill_pct\nB0001,2026-11-01T10:00:00Z,10\n")
    (scn / "scenario.json").write_text(json.dumps({"network": str(sample_dir / "network.osm.pbf")}))
    assert load_scenario(scn).network.name == "network.osm.pbf"
    (scn / "scenario.json").write_text(json.dumps({"network": "missing.osm"}))
    with pytest.raises(ScenarioError, match=r"missing\.osm"):
        load_scenario(scn)


@pytest.mark.slow
def test_forecast_cli_json(sample_dir):
    """`binroute forecast --json` gives per-bin fill, quantiles, overflow probability and decision."""
    run = subprocess.run(
        [sys.executable, "-m", "binroute.api.cli", "forecast", str(sample_dir), "--at", "2026-11-23T10:00", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    bins = json.loads(run.stdout)["bins"]
    assert len(bins) == 360
    one = next(iter(bins.values()))
    assert set(one) == {"fill_pct", "fill_p10", "fill_p90", "p_overflow", "decision", "reason", "model", "due_by"}
    assert {b["decision"] for b in bins.values()} <= {"must", "may", "skip"}


@pytest.mark.slow
def test_backtest_cli_json(sample_dir, tmp_path):
    """`binroute backtest --json` reports both horizons and beats the last-reading baseline."""
    out = tmp_path / "bt.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "binroute.api.cli",
            "backtest",
            str(sample_dir),
            "--from",
            "2026-11-16",
            "--to",
            "2026-11-18",
            "--json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(run.stdout)
    assert out.is_file()
    for h in ("1", "2"):
        assert set(result["horizons"][h]) == {"model", "last", "mean_fill", "mean_rate", "full"}
    assert result["horizons"]["1"]["model"]["mae"] < 0.7 * result["horizons"]["1"]["last"]["mae"]
    assert "overflows" in result
    judged = result["decisions"]["all"]
    assert set(judged) == {"model", "tuned", "last", "mean_rate"}
    assert all(d["lifts"] <= d["bin_days"] and d["wasted"] <= d["lifts"] for d in judged.values())
