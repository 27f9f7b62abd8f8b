"""One background solve: ``python -P -m api.service.solve_job DATABASE_URL PLAN_ID WORKDIR``.

Writes the scenario from the database into a temporary directory, runs the
same pipeline as ``binroute plan``, and stores the summary, GeoJSON and map
page, or the error, on the plan row.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..pipeline import USER_ERRORS, PlanOptions, load_scenario, plan_scenario
from ..pipeline.mapview import map_html
from .db import CollectionRow, PlanRow, ReadingRow, ScenarioRow, make_engine, now, sessions


def export_scenario(session: Session, scenario: ScenarioRow, target: Path) -> None:
    """Write a stored scenario as a scenario directory (readings, and collections when it has any)."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "fleet.json").write_text(scenario.fleet_json, encoding="utf-8")
    (target / "bins.csv").write_text(scenario.bins_csv, encoding="utf-8")
    rows = session.execute(
        select(ReadingRow.bin_id, ReadingRow.ts, ReadingRow.fill_pct).where(ReadingRow.scenario_id == scenario.id)
    ).all()
    lines = ["bin_id,timestamp,fill_pct"] + [f"{b},{ts.isoformat()}Z,{f:g}" for b, ts, f in rows]
    (target / "readings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    logged = session.execute(
        select(CollectionRow.bin_id, CollectionRow.collected_at, CollectionRow.fill_pct, CollectionRow.kg).where(
            CollectionRow.scenario_id == scenario.id
        )
    ).all()
    if logged:
        table = pd.DataFrame(logged, columns=["bin_id", "collected_at", "fill_pct", "kg"])
        table["collected_at"] = [ts.isoformat() + "Z" for ts in table["collected_at"]]
        table.to_csv(target / "collections.csv", index=False)
    (target / "scenario.json").write_text(json.dumps({"network": scenario.network_file}), encoding="utf-8")


def main(argv: list[str]) -> int:
    """Solve the plan ``argv`` names and store the outcome on its row; 0 unless the process itself failed."""
    url, plan_id, workdir = argv
    factory = sessions(make_engine(url))
    with factory() as s:
        plan = s.get(PlanRow, plan_id)
        if plan is None:
            return 0
        scenario = s.get(ScenarioRow, plan.scenario_id)
        options = json.loads(plan.options_json)
        try:
            with tempfile.TemporaryDirectory(dir=workdir) as tmp:
                assert scenario is not None
                export_scenario(s, scenario, Path(tmp) / "scenario")
                scn = load_scenario(Path(tmp) / "scenario")
                result = plan_scenario(scn, PlanOptions.from_json(options))
            plan.summary_json = json.dumps(result.plan)
            plan.geojson = json.dumps(result.geojson, separators=(",", ":"))
            plan.map_html = map_html(result.geojson, result.plan, tiles=options.get("tiles"))
            plan.status = "done"
        except USER_ERRORS as exc:
            plan.status, plan.error = "failed", str(exc)
        plan.finished = now()
        s.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
