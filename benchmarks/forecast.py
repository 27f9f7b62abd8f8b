"""``python -m benchmarks.forecast``: the fill forecast on the bundled sample and on real council data.

Data sets (the real ones are read from ``../shared/real_bins`` beside the
checkout, or ``$BINROUTE_SHARED/real_bins``, and skipped when absent; they
are never copied into the repository):

* ``helsinki_sample``: ``sample_data/helsinki/readings.csv`` (synthetic dense sensors);
* ``ucb_bigbelly``: UC Berkeley campus Bigbelly bins, a collection log (fill
  in 20% steps recorded at each emptying). Source: UC Berkeley Bigbelly data
  via AdithyaAyanam/BigBelly-Routing-Dispatch-Project (MIT licence);
* ``wyndham_daily``: Wyndham City Council smart bins, daily snapshots in
  20% steps. Source: Wyndham City Council smart-bin data, data.gov.au
  (reuse with attribution), via d1373/envirosage.

Conversions: Bigbelly local times (US Pacific) become UTC, "Alert - Unknown
Fullness" an unknown level, and the asset list gives stream and coordinates;
bins missing from it keep their stream from the log and no coordinates (the
forecast then groups them by stream alone: no road network is needed). A
Wyndham snapshot has a date only; it is placed at 12:00 local time
(Australia/Melbourne), fullness 0–10 ×10 %. Bins have no coordinates.

Each set is backtested by :func:`binroute.routing.forecast.backtest.backtest` over its last
:data:`WINDOW_DAYS` days, with at most :data:`MAX_ORIGINS` origin days spread
evenly (every origin is fitted on all data before it), to keep the run
within minutes. No constant here or in the model is set from these data.
Results go to ``benchmarks/results/forecast.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from binroute.routing.forecast import NAIVE, backtest, best_naive

from .common import RESULTS, ROOT

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL = SHARED / "real_bins"
WINDOW_DAYS = 360
MAX_ORIGINS = 30
CREDITS = {
    "ucb_bigbelly": "UC Berkeley Bigbelly data, via AdithyaAyanam/BigBelly-Routing-Dispatch-Project (MIT)",
    "wyndham_daily": "Wyndham City Council smart-bin data (data.gov.au), via d1373/envirosage",
    "helsinki_sample": "binroute's synthetic sample",
}


class DataSet:
    def __init__(
        self,
        readings: pd.DataFrame,
        collections: pd.DataFrame | None,
        bins: pd.DataFrame | None,
        tz: str,
        start: date | None = None,
        end: date | None = None,
    ) -> None:
        self.readings, self.collections, self.bins, self.tz = readings, collections, bins, tz
        self.start, self.end = start, end


def _csv_after(path: Path, first_field: str) -> pd.DataFrame:
    """A vendor export: skip the header block up to the line starting with ``first_field``."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    k = next(i for i, line in enumerate(lines) if line.lstrip('"').startswith(first_field))
    return pd.read_csv(io.StringIO("\n".join(lines[k:])), dtype=str)


def load_sample() -> DataSet:
    base = ROOT / "sample_data" / "helsinki"
    readings = pd.read_csv(base / "readings.csv")
    readings["timestamp"] = pd.to_datetime(readings["timestamp"], utc=True, format="ISO8601")
    return DataSet(
        readings, None, pd.read_csv(base / "bins.csv"), "Europe/Helsinki", date(2026, 10, 12), date(2026, 11, 21)
    )


def bigbelly_collections(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collections (``bin_id, collected_at, fill_pct``) and bins (``bin_id, stream, lon, lat``)."""
    parts = [_csv_after(p, "Serial") for p in sorted(folder.glob("collections_*.csv"))]
    raw = pd.concat(parts, ignore_index=True)
    level = pd.to_numeric(raw["Fullness Level at Collection"].str.strip().str.rstrip("%"), errors="coerce")
    local = pd.to_datetime(raw["Collection Time"], format="%m/%d/%Y %H:%M", errors="coerce")
    when = local.dt.tz_localize("America/Los_Angeles", ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert(
        "UTC"
    )
    col = pd.DataFrame({"bin_id": raw["Serial"].str.strip(), "collected_at": when, "fill_pct": level})
    col = col[col["collected_at"].notna() & col["bin_id"].notna()]
    assets = _csv_after(folder / "assets.csv", "Description")
    bins = pd.DataFrame(
        {
            "bin_id": assets["Serial"].str.strip(),
            "stream": assets["Streams"].str.strip(),
            "lon": pd.to_numeric(assets["Lng"], errors="coerce"),
            "lat": pd.to_numeric(assets["Lat"], errors="coerce"),
        }
    )
    # Bins in the log but not in the asset list: stream from the log, no coordinates.
    extra = raw[~raw["Serial"].str.strip().isin(bins["bin_id"])].drop_duplicates("Serial")
    bins = pd.concat(
        [
            bins,
            pd.DataFrame({"bin_id": extra["Serial"].str.strip(), "stream": extra["Stream Type"].str.strip()}),
        ],
        ignore_index=True,
    ).drop_duplicates("bin_id")
    return col, bins


def load_bigbelly() -> DataSet | None:
    folder = REAL / "ucb_bigbelly"
    if not (folder / "assets.csv").is_file():
        return None
    col, bins = bigbelly_collections(folder)
    empty = pd.DataFrame({"bin_id": [], "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"), "fill_pct": []})
    return DataSet(empty, col, bins, "America/Los_Angeles")


def wyndham_readings(path: Path) -> pd.DataFrame:
    """Readings (``bin_id, timestamp, fill_pct``) from the daily snapshots, each at 12:00 local time."""
    raw = pd.read_csv(path, dtype=str)
    day = pd.to_datetime(raw["timestamp"], format="%d-%m-%Y", errors="coerce") + pd.Timedelta(hours=12)
    ts = day.dt.tz_localize("Australia/Melbourne", ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    out = pd.DataFrame(
        {
            "bin_id": raw["Bin ID"].str.strip(),
            "timestamp": ts,
            "fill_pct": pd.to_numeric(raw["Fullness"], errors="coerce") * 10,
        }
    )
    return out[out["timestamp"].notna()]


def load_wyndham() -> DataSet | None:
    path = REAL / "wyndham_daily" / "snapshots.csv"
    if not path.is_file():
        return None
    return DataSet(wyndham_readings(path), None, None, "Australia/Melbourne")


LOADERS: dict[str, Callable[[], DataSet | None]] = {
    "helsinki_sample": load_sample,
    "ucb_bigbelly": load_bigbelly,
    "wyndham_daily": load_wyndham,
}


def _range(ds: DataSet) -> tuple[date, date, int]:
    if ds.start is not None and ds.end is not None:
        days = (ds.end - ds.start).days + 1
        return ds.start, ds.end, max(1, math.ceil(days / MAX_ORIGINS))
    times = [ds.readings["timestamp"]] if len(ds.readings) else []
    if ds.collections is not None:
        times.append(ds.collections["collected_at"])
    last = max(t.max() for t in times).tz_convert(ds.tz).date()
    end = last - pd.Timedelta(days=2)
    start = end - pd.Timedelta(days=WINDOW_DAYS - 1)
    return start, end, max(1, math.ceil(WINDOW_DAYS / MAX_ORIGINS))


def run(name: str, ds: DataSet) -> dict[str, object]:
    start, end, step = _range(ds)
    began = time.perf_counter()
    result = backtest(
        ds.readings, collections=ds.collections, bins=ds.bins, tz=ds.tz, start=start, end=end, step_days=step
    )
    out = result.as_dict()
    out.update(
        {
            "data": name,
            "credit": CREDITS[name],
            "start": str(start),
            "end": str(end),
            "step_days": step,
            "seconds": round(time.perf_counter() - began, 1),
        }
    )
    return out


def calibration(table: list[dict[str, float]], brier: float) -> dict[str, float]:
    """From a reliability table: the calibration error and the Brier skill score.

    ``ece``: the mean gap between forecast probability and observed
    frequency over the table's bins, weighted by their counts; ``skill``:
    ``1 − Brier / Brier of always forecasting the base rate`` (above 0: better
    than knowing only how often bins are full).
    """
    n = sum(r["n"] for r in table)
    if not n:
        return {"ece": math.nan, "skill": math.nan}
    ece = sum(r["n"] * abs(r["forecast"] - r["observed"]) for r in table) / n
    base = sum(r["n"] * r["observed"] for r in table) / n
    ref = base * (1.0 - base)
    return {"ece": ece, "skill": 1.0 - brier / ref if ref > 0 else math.nan}


def summary_rows(results: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per data set, data shape and horizon: the model against every naive forecast."""
    rows = []
    for r in results:
        for shape, info in r["shapes"].items():  # type: ignore[attr-defined]
            for h, methods in info["horizons"].items():
                best = best_naive(methods)
                best_mae = methods[best]["mae"] if best is not None else math.nan
                thr: dict[str, Any] = r.get("threshold", {}).get(shape, {}).get(h, {})  # type: ignore[attr-defined]
                thr_cal = calibration(thr["table"], thr["brier"]) if thr else {"ece": math.nan, "skill": math.nan}
                rows.append(
                    {
                        "data": r["data"],
                        "shape": shape,
                        "h": h,
                        "model": methods["model"]["mae"],
                        **{m: methods[m]["mae"] for m in NAIVE},
                        "best_naive": best,
                        "ratio": methods["model"]["mae"] / best_mae if best_mae else math.nan,
                        "coverage": info["coverage"][h],
                        "brier": info["brier"][h],
                        **calibration(info["reliability"][h], info["brier"][h]),
                        "threshold": thr.get("level", math.nan),
                        "thr_brier": thr.get("brier", math.nan),
                        "thr_skill": thr_cal["skill"],
                        "thr_ece": thr_cal["ece"],
                        "n": methods["model"]["n"],
                    }
                )
    return rows


def decision_rows(results: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per data set, data shape and decision rule: lifts per day, wasted lifts, overflows caught and missed."""
    rows = []
    for r in results:
        for where, rules in r["decisions"].items():  # type: ignore[attr-defined]
            if where == "all" and len(r["decisions"]) == 2:  # type: ignore[arg-type]
                continue  # one shape: its rows say it all
            for rule, d in rules.items():
                rows.append({"data": r["data"], "shape": where, "rule": rule, **d})
    return rows


def verdict_rows(results: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per data set, shape and collect rule (as set, and tuned on the past origins): against the best naive rule
    missing no more overflows, and how well its P(overflow before the next chance) did (Brier score and skill
    against the base rate)."""
    rows = []
    for r in results:
        chances: dict[str, dict[str, object]] = r.get("next_chance", {})  # type: ignore[assignment]
        for rule, key in (("model", "verdicts"), ("tuned", "verdicts_tuned")):
            verdicts: dict[str, dict[str, object]] = r.get(key, {})  # type: ignore[assignment]
            for where, v in verdicts.items():
                if where == "all" and len(verdicts) == 2:
                    continue
                nc = chances.get(where, {})
                brier, base = float(nc.get("brier", math.nan)), float(nc.get("base", math.nan))  # type: ignore[arg-type]
                table: list[dict[str, float]] = nc.get("table", [])  # type: ignore[assignment]
                n = sum(t["n"] for t in table)
                ece = sum(t["n"] * abs(t["forecast"] - t["observed"]) for t in table) / n if n else math.nan
                rows.append(
                    {
                        "data": r["data"],
                        "shape": where,
                        "rule": rule,
                        **v,
                        "next_brier": brier,
                        "next_skill": 1.0 - brier / base if base > 0 else math.nan,
                        "next_ece": ece,
                    }
                )
    return rows


def report(results: list[dict[str, object]]) -> None:
    """Write ``forecast.json`` and print the tables."""
    rows = summary_rows(results)
    decided = decision_rows(results)
    verdicts = verdict_rows(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "forecast.json").write_text(
        json.dumps(
            {"summary": rows, "decisions": decided, "verdicts": verdicts, "sets": results}, indent=2, default=float
        )
    )
    names = " ".join(f"{m:>9}" for m in NAIVE)
    print(
        f"{'data':<16} {'shape':<6} {'h':>2} {'model':>7} {names} {'best':>9} {'ratio':>6} {'cover':>6} {'brier':>7} "
        f"{'skill':>6} {'ece':>6} {'thr':>4} {'brier':>7} {'skill':>6} {'ece':>6}"
    )
    for r in rows:
        naive = " ".join(f"{r[m]:>9.2f}" for m in NAIVE)
        print(
            f"{r['data']:<16} {r['shape']:<6} {r['h']:>2} {r['model']:>7.2f} {naive} {r['best_naive']!s:>9} "
            f"{r['ratio']:>6.2f} {r['coverage']:>6.1%} {r['brier']:>7.4f} {r['skill']:>6.2f} {r['ece']:>6.3f} "
            f"{r['threshold']:>4.0f} {r['thr_brier']:>7.4f} {r['thr_skill']:>6.2f} {r['thr_ece']:>6.3f}"
        )
    print(f"{'data':<16} {'shape':<6} {'rule':<10} {'lifts/day':>9} {'wasted':>7} {'caught':>7} {'missed':>7}")
    for d in decided:
        print(
            f"{d['data']:<16} {d['shape']:<6} {d['rule']:<10} {d['lifts_per_day']:>9.1f} {d['wasted']:>7} "
            f"{d['caught']:>7} {d['missed']:>7}"
        )
    print(
        f"{'data':<16} {'shape':<6} {'rule':<6} {'wasted':>7} {'missed':>7} {'best naive missing no more':<22} "
        f"{'wasted':>7} {'missed':>7} {'ratio':>6} {'P(next) Brier':>13} {'skill':>6} {'ece':>6}"
    )
    for v in verdicts:
        naive = (
            f"{v['naive']!s:<22} {v['naive_wasted']:>7} {v['naive_missed']:>7} {v['ratio']:>6.2f}"
            if v["naive"] is not None
            else f"{'(all miss more)':<22} {'':>7} {'':>7} {'':>6}"
        )
        print(
            f"{v['data']:<16} {v['shape']:<6} {v['rule']:<6} {v['wasted']:>7} {v['missed']:>7} {naive} "
            f"{v['next_brier']:>13.4f} {v['next_skill']:>6.2f} {v['next_ece']:>6.3f}"
        )
    for r in results:
        print(f"{r['data']}: models chosen {r['chosen']}; {r['seconds']} s; {r['credit']}")
        for shape, weights in r.get("blend", {}).items():  # type: ignore[attr-defined]
            print(f"  {shape} combination weights (mean over origins): {weights}")
        for shape, settings in r.get("tuned", {}).items():  # type: ignore[attr-defined]
            used = Counter((s["risk"], s["threshold"]) for s in settings)
            print(f"  {shape} tuned collect rule (risk, threshold): origins {dict(used.most_common())}")
        for shape, t in r.get("tuned_next", {}).items():  # type: ignore[attr-defined]
            print(f"  {shape} tuned on every day judged: risk {t['risk']:.0%}, threshold {t['threshold']:g}%")
    print(f"wrote {RESULTS / 'forecast.json'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(LOADERS), help="Data sets to run (default all).")
    parser.add_argument(
        "--keep", action="store_true", help="Keep the other data sets' results from the last forecast.json."
    )
    args = parser.parse_args(argv)
    results = []
    for name, loader in LOADERS.items():
        if args.only and name not in args.only:
            continue
        ds = loader()
        if ds is None:
            print(f"{name}: not found under {REAL}, skipped")
            continue
        print(f"{name}: backtesting ...", flush=True)
        results.append(run(name, ds))
    if args.keep and (RESULTS / "forecast.json").is_file():
        done = {r["data"] for r in results}
        old = json.loads((RESULTS / "forecast.json").read_text())["sets"]
        results = [r for r in old if r["data"] not in done] + results
        results.sort(key=lambda r: list(LOADERS).index(str(r["data"])))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
