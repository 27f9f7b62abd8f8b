"""A forecast asked again on the same data reuses its fit; any new or changed row is fitted afresh."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest

from binroute.api.pipeline import forecast as fc

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")


def _data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three bins read every six hours for ten days, each filling at its own rate and emptied at 90%."""
    rows = []
    for i, rate in enumerate((20.0, 35.0, 50.0)):
        level = 10.0
        for k in range(40):
            rows.append({"bin_id": f"B{i}", "timestamp": T0 + pd.Timedelta(hours=6 * k), "fill_pct": round(level, 1)})
            level = 5.0 if level >= 90 else level + rate / 4
    ids, lons = ["B0", "B1", "B2"], [24.94, 24.95, 24.96]
    bins = pd.DataFrame({"bin_id": ids, "stream": "general", "lon": lons, "lat": 60.17, "capacity_l": 660})
    return pd.DataFrame(rows), bins


@pytest.fixture
def fits(monkeypatch):
    """A fresh cache, and a count of the real fits made."""
    monkeypatch.setattr(fc, "_fits", OrderedDict())
    calls: list[int] = []
    real = fc.fit_fill_model

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fc, "fit_fill_model", counting)
    return calls


def test_a_second_forecast_on_the_same_data_reuses_the_fit(fits):
    readings, bins = _data()
    end = readings["timestamp"].max()
    first = fc.forecast_bins(readings, bins, "UTC", None, end + pd.Timedelta(hours=4))
    again = fc.forecast_bins(readings.copy(), bins.copy(), "UTC", None, end + pd.Timedelta(hours=4))
    later = fc.forecast_bins(readings, bins, "UTC", None, end + pd.Timedelta(hours=28))
    assert len(fits) == 1
    assert again == first and later["bins"]["B0"]["fill_pct"] > first["bins"]["B0"]["fill_pct"]


def test_a_new_or_changed_reading_is_fitted_afresh(fits):
    readings, bins = _data()
    end = readings["timestamp"].max()
    when = end + pd.Timedelta(hours=4)
    before = fc.forecast_bins(readings, bins, "UTC", None, when)
    newer = pd.concat(
        [readings, pd.DataFrame({"bin_id": ["B0"], "timestamp": [end + pd.Timedelta(hours=3)], "fill_pct": [97.0]})]
    )
    after = fc.forecast_bins(newer, bins, "UTC", None, when)
    changed = readings.assign(fill_pct=np.where(readings.index == len(readings) - 1, 99.0, readings["fill_pct"]))
    fc.forecast_bins(changed, bins, "UTC", None, when)
    assert len(fits) == 3
    assert before["bins"]["B0"]["fill_pct"] < 90 < after["bins"]["B0"]["fill_pct"]


def test_the_cache_keeps_its_size(fits, monkeypatch):
    monkeypatch.setattr(fc, "FIT_CACHE_SIZE", 2)
    readings, bins = _data()
    for tz in ("UTC", "Europe/Helsinki", "Europe/London"):
        fc.cached_fill_model(readings, bins=bins, tz=tz, collections=None)
    assert len(fc._fits) == 2 and len(fits) == 3
    fc.cached_fill_model(readings, bins=bins, tz="Europe/London", collections=None)  # the newest is kept
    assert len(fits) == 3
