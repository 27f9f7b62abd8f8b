"""Writing a plan's files: routes.geojson, plan.json, and the chosen exports for the depot."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

from binroute.geo import to_gpx, vehicle_collections, write_geojson, write_geopackage, write_png

from .mapview import DEFAULT_TILES, map_html
from .options import EXPORTS
from .plan import PlanResult

SHEET_COLUMNS = (
    "sequence",
    "kind",
    "id",
    "street",
    "side",
    "walk_out_m",
    "reversing_before",
    "arrival",
    "eta",
    "departure",
    "predicted_fill_pct",
    "load_kg",
    "load_l",
)


def safe_name(text: str) -> str:
    """A file name made from an id (ids come from user files and are never used as paths)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned or "vehicle"


def route_sheet(vehicle: dict[str, Any]) -> str:
    """A crew's route sheet as CSV: every stop and tip in order, and the break."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SHEET_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    rows = list(vehicle["stops"])
    brk = vehicle.get("break")
    if brk:
        at = next((i for i, r in enumerate(rows) if r["eta"] > brk["start"]), len(rows))
        rows.insert(at, {"sequence": "", "kind": "break", "id": f"{brk['minutes']:g} min", "eta": brk["start"]})
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in SHEET_COLUMNS})
    return out.getvalue()


def write_plan(
    result: PlanResult,
    out_dir: str | Path,
    *,
    exports: tuple[str, ...] = EXPORTS,
    tiles: str | None = DEFAULT_TILES,
) -> dict[str, Path]:
    """Write ``routes.geojson`` and ``plan.json`` into ``out_dir``, plus the chosen exports.

    ``map`` → ``map.html``; ``vehicles`` → ``vehicles/<id>.geojson``; ``csv`` →
    ``sheets/<id>.csv``; ``gpx`` → ``gpx/<id>.gpx``; ``gpkg`` → ``plan.gpkg``;
    ``png`` → ``overview.png``.
    """
    began = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    geo_fc, plan = result.geojson, result.plan
    files = {"routes": write_geojson(geo_fc, out / "routes.geojson")}
    used = [v for v in plan["vehicles"] if v["used"]]
    own = vehicle_collections(geo_fc, [v["vehicle_id"] for v in used])
    if "map" in exports:
        files["map"] = out / "map.html"
        files["map"].write_text(map_html(geo_fc, plan, tiles=tiles), encoding="utf-8")
    for kind, folder, suffix in (("vehicles", "vehicles", "geojson"), ("csv", "sheets", "csv"), ("gpx", "gpx", "gpx")):
        if kind not in exports:
            continue
        (out / folder).mkdir(exist_ok=True)
        for v in used:
            target = out / folder / f"{safe_name(v['vehicle_id'])}.{suffix}"
            if kind == "vehicles":
                write_geojson(own[v["vehicle_id"]], target)
            elif kind == "csv":
                target.write_text(route_sheet(v), encoding="utf-8")
            else:
                target.write_text(to_gpx(own[v["vehicle_id"]], v["vehicle_id"]), encoding="utf-8")
        files[kind] = out / folder
    if "gpkg" in exports:
        files["gpkg"] = write_geopackage(geo_fc, out / "plan.gpkg")
    if "png" in exports:
        files["png"] = write_png(
            geo_fc, result.network, out / "overview.png", title=f"{plan['scenario']} {plan['date']}"
        )
    # The plan as written counts this write too; ``result.plan`` itself stays as it was.
    timings = dict(plan["timings_s"])
    timings["write"] = round(timings.get("write", 0.0) + time.perf_counter() - began, 3)
    plan = {**plan, "timings_s": timings}
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(plan, indent=2, ensure_ascii=False), encoding="utf-8")
    files["plan"] = plan_path
    return files
