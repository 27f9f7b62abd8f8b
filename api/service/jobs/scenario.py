"""A stored scenario written back as a directory, the input of every job (a plan's solve, a simulation).

The job process (or Celery worker) writes it into a temporary directory and
reads it with the same loader as ``binroute plan``; its road network comes
from the database's content-addressed copy, cached in ``WORKDIR/networks``
(:func:`~binroute.api.service.networks.network_path`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import CollectionRow, ReadingRow, ScenarioRow
from ..networks import network_path


def export_scenario(
    session: Session, scenario: ScenarioRow, target: Path, cache: Path, *, fill_data: bool = True
) -> None:
    """Write a stored scenario as a directory: readings, collections if any, its network from ``cache``.

    Without ``fill_data`` the readings file is empty and no collections are written
    (a re-plan needs no forecast).
    """
    target.mkdir(parents=True, exist_ok=True)
    (target / "fleet.json").write_text(scenario.fleet_json, encoding="utf-8")
    (target / "bins.csv").write_text(scenario.bins_csv, encoding="utf-8")
    rows = (
        session.execute(
            select(ReadingRow.bin_id, ReadingRow.ts, ReadingRow.fill_pct).where(ReadingRow.scenario_id == scenario.id)
        ).all()
        if fill_data
        else []
    )
    lines = ["bin_id,timestamp,fill_pct"] + [f"{b},{ts.isoformat()}Z,{f:g}" for b, ts, f in rows]
    (target / "readings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    logged = (
        session.execute(
            select(CollectionRow.bin_id, CollectionRow.collected_at, CollectionRow.fill_pct, CollectionRow.kg).where(
                CollectionRow.scenario_id == scenario.id
            )
        ).all()
        if fill_data
        else []
    )
    if logged:
        table = pd.DataFrame(logged, columns=["bin_id", "collected_at", "fill_pct", "kg"])
        table["collected_at"] = [ts.isoformat() + "Z" for ts in table["collected_at"]]
        table.to_csv(target / "collections.csv", index=False)
    network = network_path(session, scenario, cache)
    (target / "scenario.json").write_text(json.dumps({"network": str(network)}), encoding="utf-8")
