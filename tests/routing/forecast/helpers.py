"""Readings series the forecast tests build."""

from __future__ import annotations

import pandas as pd

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")  # a Monday


def series(values, bin_id="A", hours=6, start=T0):
    """Readings of one bin every ``hours`` from ``start``, one per value."""
    return pd.DataFrame(
        {
            "bin_id": bin_id,
            "timestamp": [start + pd.Timedelta(hours=hours * i) for i in range(len(values))],
            "fill_pct": values,
        }
    )


def linear(rate_per_day, days, bin_id="A", hours=6, start_level=0.0):
    """Readings of a bin filling at a constant rate for ``days``."""
    n = int(days * 24 / hours) + 1
    return series([start_level + rate_per_day * hours / 24 * i for i in range(n)], bin_id, hours)
