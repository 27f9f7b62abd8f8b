"""Fixtures the HTTP API tests share."""

from __future__ import annotations

import pandas as pd
import pytest

N_BINS = 30


@pytest.fixture(scope="module")
def small(sample_dir, tmp_path_factory):
    """A small scenario cut from the sample: 30 bins and their readings."""
    folder = tmp_path_factory.mktemp("small")
    bins = pd.read_csv(sample_dir / "bins.csv", dtype=str, keep_default_na=False).head(N_BINS)
    bins.to_csv(folder / "bins.csv", index=False)
    readings = pd.read_csv(sample_dir / "readings.csv", dtype=str)
    readings[readings["bin_id"].isin(bins["bin_id"])].to_csv(folder / "readings.csv", index=False)
    (folder / "fleet.json").write_bytes((sample_dir / "fleet.json").read_bytes())
    (folder / "network.osm.pbf").write_bytes((sample_dir / "network.osm.pbf").read_bytes())
    return folder
