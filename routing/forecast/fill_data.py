"""Fill data as councils hold it: sensor readings, collection logs, or both.

Two inputs, both :class:`pandas.DataFrame`:

* **readings**: ``bin_id`` (str), ``timestamp`` (timezone-aware, or UTC when
  naive), ``fill_pct`` (float). May be empty.
* **collections**: one row per emptying: ``bin_id``, ``collected_at``
  (timezone-aware, or UTC when naive), ``fill_pct`` (the level just before
  the emptying; nan when unknown) and optionally ``kg`` (weight collected;
  carried, not yet used by the models). May be ``None`` or empty.

Each bin's series has a *shape* (:data:`SHAPES`), detected from its data:

* ``dense``: a sensor feed, several readings per cycle at any resolution;
* ``coarse``: levels quantised to 10% steps or one snapshot a day or less;
* ``log``: a log of emptyings, about one informative reading per cycle
  (either a collections table, or readings that alternate "full just before"
  and "empty just after").

Cleaning follows the shape (:func:`clean_readings`), and :func:`mark_emptyings`
merges the collections into the series: the level before each emptying is a
reading, the emptying starts a new cycle, and a level of 0 just after it is
added when no sensor says otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ForecastError

DENSE, COARSE, LOG = "dense", "coarse", "log"
SHAPES = (DENSE, COARSE, LOG)

#: A drop of at least this many points (and to at most 60% of the level) is an emptying.
EMPTYING_DROP_PCT = 15.0
SPIKE_PCT = 25.0
STUCK_HOURS = 48.0
STUCK_MIN_READINGS = 4
MAX_INTERVAL_DAYS = 4.0
#: In a log one interval spans a whole cycle; only longer ones are gaps.
LOG_MAX_INTERVAL_DAYS = 14.0
#: Shape detection needs this many readings; fewer are treated as ``dense``.
MIN_SHAPE_READINGS = 4
#: Share of readings on a multiple of 10% that makes a feed ``coarse``.
QUANTISED_SHARE = 0.95
#: A median interval of at least this many hours makes a feed ``coarse``.
COARSE_INTERVAL_H = 20.0
#: An emptying added from a collection gets a level of 0 just after it unless
#: a sensor reading follows within this many hours.
AFTER_EMPTYING_H = 3.0
BEFORE_EMPTYING_H = 1.0

CLEANING_COUNTS = ("missing_value", "out_of_range", "clipped", "duplicates", "spikes", "stuck", "gaps")
_EPS = pd.Timedelta(seconds=1)


def ns(x: pd.Series | pd.DatetimeIndex | pd.Timestamp | list) -> np.ndarray:
    """UTC nanoseconds since the epoch (int64) of timestamps, whatever their unit."""
    idx = pd.DatetimeIndex(pd.Series(x)) if not isinstance(x, pd.DatetimeIndex) else x
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.as_unit("ns").asi8


def validate_collections(collections: pd.DataFrame | None) -> pd.DataFrame:
    """Check and normalise a collections table (see the module docstring).

    Fill levels outside -5..120 become unknown (nan), others are clipped to
    0–100; the same bin emptied twice at one instant is one emptying.

    Raises
    ------
    ForecastError
        If a required column is missing or a ``collected_at`` is not a time.
    """
    cols = ["bin_id", "collected_at", "fill_pct", "kg"]
    if collections is None or len(collections) == 0:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(cols, _COLLECTION_DTYPES, strict=True)})
    missing = [c for c in ("bin_id", "collected_at", "fill_pct") if c not in collections.columns]
    if missing:
        raise ForecastError(f"collections lack column(s): {', '.join(missing)}")
    df = collections.copy()
    df["bin_id"] = df["bin_id"].astype(str)
    try:
        df["collected_at"] = pd.to_datetime(df["collected_at"], utc=True)
    except (ValueError, TypeError) as exc:
        raise ForecastError(f"collections: collected_at is not a date and time ({exc})") from exc
    if df["collected_at"].isna().any():
        row = int(np.flatnonzero(df["collected_at"].isna().to_numpy())[0])
        raise ForecastError(f"collections row {row}: collected_at is missing")
    fill = pd.to_numeric(df["fill_pct"], errors="coerce")
    fill = fill.where(fill.between(-5.0, 120.0)).clip(0.0, 100.0)
    kg = pd.to_numeric(df["kg"], errors="coerce") if "kg" in df.columns else pd.Series(np.nan, index=df.index)
    df = pd.DataFrame({"bin_id": df["bin_id"], "collected_at": df["collected_at"], "fill_pct": fill, "kg": kg})
    df = df.groupby(["bin_id", "collected_at"], as_index=False, sort=True).agg({"fill_pct": "max", "kg": "max"})
    return df[cols]


_COLLECTION_DTYPES = ("object", "datetime64[ns, UTC]", "float64", "float64")


def _basic(readings: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Missing values, out-of-range values and duplicates: the rules every shape shares."""
    missing = [c for c in ("bin_id", "timestamp", "fill_pct") if c not in readings.columns]
    if missing:
        raise ForecastError(f"readings lack column(s): {', '.join(missing)}")
    df = readings[["bin_id", "timestamp", "fill_pct"]].copy()
    df["bin_id"] = df["bin_id"].astype(str)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["fill_pct"] = pd.to_numeric(df["fill_pct"], errors="coerce").astype(float)
    report = {b: dict.fromkeys(CLEANING_COUNTS, 0) for b in df["bin_id"].unique()}

    def count(mask: pd.Series, rule: str) -> None:
        for b, n in df.loc[mask, "bin_id"].value_counts().items():
            report[str(b)][rule] += int(n)

    count(df["fill_pct"].isna(), "missing_value")
    df = df[df["fill_pct"].notna()]
    far = (df["fill_pct"] < -5) | (df["fill_pct"] > 120)
    count(far, "out_of_range")
    df = df[~far]
    near = (df["fill_pct"] < 0) | (df["fill_pct"] > 100)
    count(near, "clipped")
    df = df.assign(fill_pct=df["fill_pct"].clip(0.0, 100.0))
    dup = df.duplicated(["bin_id", "timestamp"], keep="first")
    count(dup, "duplicates")
    df = df.groupby(["bin_id", "timestamp"], as_index=False, sort=True)["fill_pct"].median()
    return df, report


def _drops(df: pd.DataFrame) -> pd.Series:
    """True where a reading is far below the one before it (an emptying seen by the sensor)."""
    prev = df["fill_pct"].shift(1)
    same = df["bin_id"].eq(df["bin_id"].shift(1))
    return same & (prev - df["fill_pct"] >= EMPTYING_DROP_PCT) & (df["fill_pct"] <= 0.6 * prev)


def detect_shapes(readings: pd.DataFrame, collections: pd.DataFrame | None = None) -> dict[str, str]:
    """The shape of each bin's series: ``dense``, ``coarse`` or ``log``.

    Parameters
    ----------
    readings
        Readings sorted by bin and time, values already in 0–100 (the output
        of the shared cleaning rules; raw readings work too).
    collections
        Validated collections (:func:`validate_collections`) or ``None``.

    Rules, per bin: with collections and at most one reading between two
    emptyings on median, ``log``; readings alone that alternate between a
    level and a drop read within a quarter of the usual interval, with at
    most 2.5 readings per cycle, ``log``; readings 95% on multiples of 10%,
    or a median interval of 20 h or more, ``coarse``; otherwise ``dense``
    (also for bins with fewer than :data:`MIN_SHAPE_READINGS` readings).
    """
    df = readings.sort_values(["bin_id", "timestamp"]).reset_index(drop=True)
    col = validate_collections(collections)
    shapes: dict[str, str] = {}
    per_bin_col = {str(b): ns(g["collected_at"]) for b, g in col.groupby("bin_id")}
    drops = _drops(df).to_numpy()
    gaps_h = df["timestamp"].diff().dt.total_seconds().to_numpy() / 3600.0
    same = df["bin_id"].eq(df["bin_id"].shift(1)).to_numpy()
    for b, idx in df.groupby("bin_id").indices.items():
        b = str(b)
        n = len(idx)
        times = per_bin_col.get(b)
        if times is not None and len(times) >= 2:
            between = np.diff(np.searchsorted(ns(df["timestamp"])[idx], times))
            if n == 0 or float(np.median(between)) <= 1.0:
                shapes[b] = LOG
                continue
        if n < MIN_SHAPE_READINGS:
            shapes[b] = DENSE
            continue
        g = gaps_h[idx][same[idx]]
        d = drops[idx]
        n_cycles = int(d.sum()) + 1
        if n_cycles >= 3 and n / n_cycles <= 2.5:
            across = gaps_h[idx][d]
            within = g[~d[same[idx]]] if len(g) else g
            if len(within) and np.median(across) <= 0.25 * np.median(within):
                shapes[b] = LOG
                continue
        f = df["fill_pct"].to_numpy()[idx]
        on_grid = np.abs(f - 10.0 * np.round(f / 10.0)) < 0.5
        if on_grid.mean() >= QUANTISED_SHARE or (len(g) and np.median(g) >= COARSE_INTERVAL_H):
            shapes[b] = COARSE
        else:
            shapes[b] = DENSE
    for b in per_bin_col:
        shapes.setdefault(b, LOG)
    return shapes


def _emptied_before_next(df: pd.DataFrame, col: pd.DataFrame) -> np.ndarray:
    """True where a known collection falls between a reading and the next one of its bin."""
    out = np.zeros(len(df), dtype=bool)
    if col.empty or df.empty:
        return out
    times = {str(b): ns(g["collected_at"]) for b, g in col.groupby("bin_id")}
    ts = ns(df["timestamp"])
    big = np.iinfo(np.int64).max
    for b, idx in df.groupby("bin_id").indices.items():
        t = times.get(str(b))
        if t is None:
            continue
        k = np.searchsorted(t, ts[idx], side="right")  # first collection after each reading
        nxt = np.append(ts[idx][1:], big)
        has = k < len(t)
        when = t[np.minimum(k, len(t) - 1)]
        out[idx] = has & (when <= nxt)
    return out


def clean_readings(
    readings: pd.DataFrame,
    *,
    collections: pd.DataFrame | None = None,
    shapes: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Repair or drop bad readings according to each bin's shape, counting what was done.

    Rules for every shape: missing values dropped; values a little outside
    0–100 (down to -5, up to 120) clipped, others dropped; several readings
    at one instant merged into their median. Dense feeds only: single
    spikes (up or down, with neighbours that agree) dropped, except a
    reading followed by a known emptying; a sensor stuck on one value for
    more than 48 h keeps only the first reading of the run. Coarse feeds and
    logs keep their levels: a level that holds for days or a full bin between
    two empty ones is what such data looks like. Gaps over four days (14 for
    logs) are counted.

    Parameters
    ----------
    readings
        ``bin_id``, ``timestamp``, ``fill_pct``.
    collections
        Optional collections (module docstring); a reading followed by one
        is never a spike.
    shapes
        Shape per bin; detected with :func:`detect_shapes` when omitted.

    Returns
    -------
    clean, report
        Readings sorted by bin and time, and per bin the count for each rule
        in :data:`CLEANING_COUNTS`. Every input bin appears in the report,
        also when nothing of it survives.
    """
    df, report = _basic(readings)
    col = validate_collections(collections)
    if shapes is None:
        shapes = detect_shapes(df, col)

    def count(mask: pd.Series | np.ndarray, rule: str) -> None:
        for b, n in df.loc[np.asarray(mask), "bin_id"].value_counts().items():
            report[str(b)][rule] += int(n)

    dense = df["bin_id"].map(lambda b: shapes.get(b, DENSE) == DENSE).to_numpy(dtype=bool)
    same_prev = df["bin_id"].eq(df["bin_id"].shift(1))
    same_next = df["bin_id"].eq(df["bin_id"].shift(-1))
    prev, nxt = df["fill_pct"].shift(1), df["fill_pct"].shift(-1)
    f = df["fill_pct"]
    agree = (nxt - prev).abs() < SPIKE_PCT / 2
    up = (f - prev > SPIKE_PCT) & (f - nxt > SPIKE_PCT)
    down = (prev - f > SPIKE_PCT) & (nxt - f > SPIKE_PCT)
    spike = (same_prev & same_next & agree & (up | down)).to_numpy() & dense & ~_emptied_before_next(df, col)
    count(spike, "spikes")
    df = df[~spike].reset_index(drop=True)
    dense = dense[~spike]

    # Stuck sensors: runs of the exact same value (dense feeds only).
    same_bin = df["bin_id"].eq(df["bin_id"].shift(1))
    new_run = ~same_bin | (df["fill_pct"].diff().abs() > 1e-6)
    run = new_run.cumsum()
    grouped = df.groupby(run)["timestamp"]
    span_h = (grouped.transform("max") - grouped.transform("min")).dt.total_seconds() / 3600
    size = grouped.transform("size")
    stuck = ((span_h > STUCK_HOURS) & (size >= STUCK_MIN_READINGS) & ~new_run).to_numpy() & dense
    count(stuck, "stuck")
    df = df[~stuck].reset_index(drop=True)

    limit = df["bin_id"].map(lambda b: LOG_MAX_INTERVAL_DAYS if shapes.get(b) == LOG else MAX_INTERVAL_DAYS)
    gap = df["bin_id"].eq(df["bin_id"].shift(1)) & (df["timestamp"].diff().dt.total_seconds() > limit * 86400)
    count(gap, "gaps")
    for b in col["bin_id"].unique():
        report.setdefault(str(b), dict.fromkeys(CLEANING_COUNTS, 0))
    return df, report


def mark_emptyings(clean: pd.DataFrame, *, collections: pd.DataFrame | None = None) -> pd.DataFrame:
    """Merge known emptyings into cleaned readings; add ``emptied``, ``cycle`` and ``source``.

    A reading starts a new cycle (``emptied``) when a known collection lies
    between it and the previous reading (or before a bin's first reading), or, whether or not the collection
    itself is in the data, when it is a drop of at least
    :data:`EMPTYING_DROP_PCT` points to at most 60% of the previous level.
    Each collection adds its level before the emptying as a reading one
    second before it (``source`` ``"collection"``; unless a sensor reading
    lies within the hour before), and a level of 0 one second after it
    (``source`` ``"emptied"``; unless a sensor reading follows within
    :data:`AFTER_EMPTYING_H` hours). Sensor rows have ``source`` ``"sensor"``.
    """
    df = clean[["bin_id", "timestamp", "fill_pct"]].copy()
    df["source"] = "sensor"
    col = validate_collections(collections)
    if not col.empty:
        df = df.sort_values(["bin_id", "timestamp"]).reset_index(drop=True)
        before = col[col["fill_pct"].notna()]
        before = before[~_has_reading_near(df, before, -BEFORE_EMPTYING_H)]
        after = col[~_has_reading_near(df, col, AFTER_EMPTYING_H)]
        extra = [
            pd.DataFrame(
                {
                    "bin_id": before["bin_id"],
                    "timestamp": before["collected_at"] - _EPS,
                    "fill_pct": before["fill_pct"],
                    "source": "collection",
                }
            ),
            pd.DataFrame(
                {
                    "bin_id": after["bin_id"],
                    "timestamp": after["collected_at"] + _EPS,
                    "fill_pct": 0.0,
                    "source": "emptied",
                }
            ),
        ]
        df = pd.concat([df, *[e for e in extra if len(e)]], ignore_index=True)
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df = df.sort_values(["bin_id", "timestamp"], kind="stable").reset_index(drop=True)
    emptied = _drops(df).to_numpy()
    if not col.empty:
        # A collection between the previous reading and this one.
        all_t = ns(df["timestamp"])
        same = df["bin_id"].eq(df["bin_id"].shift(1)).to_numpy()
        prev_t = np.where(same, np.roll(all_t, 1), np.iinfo(np.int64).min)
        known = np.zeros(len(df), dtype=bool)
        for b, idx in df.groupby("bin_id").indices.items():
            t = ns(col.loc[col["bin_id"] == b, "collected_at"])
            if len(t) == 0:
                continue
            k_now = np.searchsorted(t, all_t[idx], side="left")  # collections strictly before each reading
            k_prev = np.searchsorted(t, prev_t[idx], side="left")
            known[idx] = k_now > k_prev
        emptied = emptied | known
    df["emptied"] = emptied
    df["cycle"] = pd.Series(emptied.astype(int)).groupby(df["bin_id"]).cumsum().to_numpy()
    return df


def _has_reading_near(df: pd.DataFrame, col: pd.DataFrame, hours: float) -> np.ndarray:
    """For each collection, whether a sensor reading lies within ``hours`` after (or before, if negative) it."""
    out = np.zeros(len(col), dtype=bool)
    if df.empty or col.empty:
        return out
    span = int(abs(hours) * 3600e9)
    all_ts = ns(df["timestamp"])
    readings_of = df.groupby("bin_id").indices
    col_t = ns(col["collected_at"])
    for b, idx in col.groupby("bin_id", sort=False).indices.items():
        if b not in readings_of:
            continue
        ts = all_ts[readings_of[b]]
        t = col_t[idx]
        if hours > 0:
            lo, hi = np.searchsorted(ts, t, side="right"), np.searchsorted(ts, t + span, side="right")
        else:
            lo, hi = np.searchsorted(ts, t - span, side="left"), np.searchsorted(ts, t, side="left")
        out[idx] = hi > lo
    return out


def prepare(
    readings: pd.DataFrame | None,
    collections: pd.DataFrame | None = None,
    *,
    before: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]], dict[str, str]]:
    """Clean readings and merge collections known strictly before ``before``.

    Returns the series of :func:`mark_emptyings`, the cleaning report and the
    shape of every bin.
    """
    if readings is None:
        readings = pd.DataFrame({"bin_id": [], "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"), "fill_pct": []})
    col = validate_collections(collections)
    if before is not None:
        ts = pd.to_datetime(readings["timestamp"], utc=True)
        readings = readings[(ts < before).to_numpy()]
        col = col[col["collected_at"] < before]
    basic, _ = _basic(readings)
    shapes = detect_shapes(basic, col)
    clean, report = clean_readings(readings, collections=col, shapes=shapes)
    return mark_emptyings(clean, collections=col), report, shapes
