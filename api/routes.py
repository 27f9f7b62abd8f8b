"""Blueprints, one per resource, under ``/api/v1`` (and ``/healthz`` at the root)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from geo import OSM_SUFFIXES, load_network
from geo.errors import NetworkError
from geo.exports import vehicle_collection

from .app import APIError, parse, require
from .db import PlanRow, ReadingRow, ScenarioRow, new_id
from .errors import ScenarioError
from .openapi import DOCS_HTML, openapi_document
from .pipeline import forecast_bins, safe_name
from .scenario import FleetIn, load_bins, load_fleet, load_readings
from .schemas import ForecastQuery, ListQuery, PlanIn, ReadingQuery, ReadingsIn, ScenarioJsonIn

health = Blueprint("health", __name__)
scenarios = Blueprint("scenarios", __name__, url_prefix="/api/v1/scenarios")
readings = Blueprint("readings", __name__, url_prefix="/api/v1/scenarios/<scenario_id>/readings")
forecasts = Blueprint("forecast", __name__, url_prefix="/api/v1/scenarios/<scenario_id>/forecast")
plans = Blueprint("plans", __name__, url_prefix="/api/v1")
docs = Blueprint("docs", __name__, url_prefix="/api/v1")


def _ext() -> dict[str, Any]:
    return current_app.extensions["binroute"]


def _scenario(s, scenario_id: str) -> ScenarioRow:
    row = s.get(ScenarioRow, scenario_id)
    if row is None:
        raise APIError(404, "not_found", f"scenario {scenario_id} not found")
    return row


def _scenario_out(s, row: ScenarioRow) -> dict[str, Any]:
    fleet = json.loads(row.fleet_json)
    n_read = s.scalar(select(func.count()).select_from(ReadingRow).where(ReadingRow.scenario_id == row.id))
    return {
        "id": row.id,
        "name": row.name,
        "created": row.created.isoformat() + "Z",
        "bins": max(0, row.bins_csv.count("\n") - 1),
        "vehicles": len(fleet.get("vehicles", [])),
        "readings": n_read,
    }


def _page(items: list[Any], total: int, q: Any) -> Any:
    return jsonify({"items": items, "total": total, "limit": q.limit, "offset": q.offset})


def _rows_page(s: Any, model: Any, q: Any, order: tuple[Any, ...], where: tuple[Any, ...] = ()) -> tuple[Any, int]:
    """One page of ``model`` rows matching ``where`` in ``order``, and how many match in all."""
    total = s.scalar(select(func.count()).select_from(model).where(*where))
    rows = s.scalars(select(model).where(*where).order_by(*order).limit(q.limit).offset(q.offset)).all()
    return rows, total


# -- health ------------------------------------------------------------------
@health.get("/healthz")
def healthz():
    with g.db() as s:
        s.execute(text("SELECT 1"))
    return jsonify({"status": "ok", "database": "ok"})


# -- scenarios ---------------------------------------------------------------
def _validated_files(folder: Path, where: str) -> tuple[FleetIn, pd.DataFrame]:
    try:
        fleet = load_fleet(folder / "fleet.json")
        bins = load_bins(folder / "bins.csv")
    except ScenarioError as exc:
        raise APIError(422, "invalid_scenario", str(exc).replace(str(folder) + "/", ""), {"where": where}) from exc
    return fleet, bins


@scenarios.post("")
@require("planner")
def create_scenario():
    """Create a scenario from uploaded files (multipart) or from JSON."""
    ext = _ext()
    with tempfile.TemporaryDirectory(dir=ext["files"]) as tmp:
        folder = Path(tmp)
        network_from: str | None = None
        suffix = ""
        if request.mimetype == "multipart/form-data":
            name = (request.form.get("name") or "").strip()
            missing = [f for f in ("fleet", "bins", "network") if f not in request.files]
            if not name or missing:
                raise APIError(
                    400,
                    "bad_request",
                    "multipart upload needs a 'name' field and files "
                    "'fleet' (fleet.json), 'bins' (bins.csv) and 'network' (.osm, .osm.bz2 or .osm.pbf)",
                    {"missing": missing + ([] if name else ["name"])},
                )
            upload_name = (request.files["network"].filename or "").lower()
            suffix = next((x for x in OSM_SUFFIXES if upload_name.endswith(x)), "")
            if not suffix:
                raise APIError(422, "invalid_scenario", "network file must end in .osm, .osm.bz2 or .osm.pbf")
            request.files["fleet"].save(folder / "fleet.json")
            request.files["bins"].save(folder / "bins.csv")
            request.files["network"].save(folder / f"network{suffix}")
            if "readings" in request.files:
                request.files["readings"].save(folder / "readings.csv")
            for upload in request.files.values():
                upload.close()
        else:
            body = parse(ScenarioJsonIn, request.get_json(silent=False))
            name, network_from = body.name, body.network_from
            (folder / "fleet.json").write_text(json.dumps(body.fleet), encoding="utf-8")
            pd.DataFrame(body.bins).to_csv(folder / "bins.csv", index=False)
        fleet, bins = _validated_files(folder, "upload")
        readings_df = None
        if (folder / "readings.csv").is_file():
            try:
                readings_df = load_readings(folder / "readings.csv", fleet.timezone)
            except ScenarioError as exc:
                raise APIError(422, "invalid_scenario", str(exc).replace(str(folder) + "/", "")) from exc
        with g.db() as s:
            if s.scalar(select(ScenarioRow).where(ScenarioRow.name == name)) is not None:
                raise APIError(409, "conflict", f"a scenario named {name!r} exists already")
            row = ScenarioRow(
                id=new_id(),
                name=name,
                fleet_json=(folder / "fleet.json").read_text(encoding="utf-8"),
                bins_csv=(folder / "bins.csv").read_text(encoding="utf-8"),
                network_file="",
            )
            if network_from is not None:
                source = _scenario(s, network_from)
                suffix = next(x for x in OSM_SUFFIXES if source.network_file.endswith(x))
                shutil.copy(source.network_file, folder / f"network{suffix}")
            target = ext["files"] / "networks" / f"{row.id}{suffix}"
            target.parent.mkdir(exist_ok=True)
            shutil.move(str(folder / f"network{suffix}"), target)
            try:
                load_network(target)
            except NetworkError as exc:
                target.unlink(missing_ok=True)
                raise APIError(422, "invalid_network", str(exc).replace(str(target), "network file")) from exc
            row.network_file = str(target)
            s.add(row)
            s.flush()
            if readings_df is not None:
                _insert_readings(s, row.id, readings_df, set(bins["bin_id"]))
            s.commit()
            out = _scenario_out(s, row)
    resp = jsonify(out)
    resp.status_code = 201
    resp.headers["Location"] = url_for("scenarios.get_scenario", scenario_id=row.id)
    return resp


@scenarios.get("")
@require("viewer")
def list_scenarios():
    q = parse(ListQuery, request.args.to_dict())
    with g.db() as s:
        rows, total = _rows_page(s, ScenarioRow, q, (ScenarioRow.created,))
        return _page([_scenario_out(s, r) for r in rows], total, q)


@scenarios.get("/<scenario_id>")
@require("viewer")
def get_scenario(scenario_id: str):
    with g.db() as s:
        return jsonify(_scenario_out(s, _scenario(s, scenario_id)))


@scenarios.delete("/<scenario_id>")
@require("planner")
def delete_scenario(scenario_id: str):
    with g.db() as s:
        row = _scenario(s, scenario_id)
        busy = s.scalar(
            select(func.count())
            .select_from(PlanRow)
            .where(PlanRow.scenario_id == scenario_id, PlanRow.status.in_(("queued", "running")))
        )
        if busy:
            raise APIError(409, "conflict", "the scenario has plans queued or running; wait for them or delete them")
        s.execute(delete(ReadingRow).where(ReadingRow.scenario_id == scenario_id))
        s.execute(delete(PlanRow).where(PlanRow.scenario_id == scenario_id))
        Path(row.network_file).unlink(missing_ok=True)
        s.delete(row)
        s.commit()
    return Response(status=204)


@scenarios.get("/<scenario_id>/bins")
@require("viewer")
def scenario_bins(scenario_id: str):
    q = parse(ListQuery, request.args.to_dict())
    with g.db() as s:
        row = _scenario(s, scenario_id)
    frame = pd.read_csv(io.StringIO(row.bins_csv), dtype={"bin_id": str}, keep_default_na=False)
    items = json.loads(frame.iloc[q.offset : q.offset + q.limit].to_json(orient="records"))
    return _page(items, len(frame), q)


@scenarios.get("/<scenario_id>/vehicles")
@require("viewer")
def scenario_vehicles(scenario_id: str):
    with g.db() as s:
        row = _scenario(s, scenario_id)
    vehicles = json.loads(row.fleet_json)["vehicles"]
    return jsonify({"items": vehicles, "total": len(vehicles), "limit": len(vehicles), "offset": 0})


# -- readings ----------------------------------------------------------------
def _insert_readings(s, scenario_id: str, frame: pd.DataFrame, known: set[str]) -> dict[str, int]:
    unknown = sorted(set(frame["bin_id"]) - known)
    if unknown:
        raise APIError(
            422, "unknown_bins", f"{len(unknown)} bin id(s) are not in the scenario", {"bin_ids": unknown[:50]}
        )
    rows = [
        {
            "scenario_id": scenario_id,
            "bin_id": b,
            "ts": t.tz_convert("UTC").tz_localize(None).to_pydatetime(),
            "fill_pct": float(f),
        }
        for b, t, f in zip(frame["bin_id"], frame["timestamp"], frame["fill_pct"], strict=True)
        if f == f
    ]
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = 0
    for start in range(0, len(rows), 5000):
        stmt = insert(ReadingRow).values(rows[start : start + 5000]).on_conflict_do_nothing()
        inserted += s.execute(stmt).rowcount or 0
    return {"received": len(frame), "inserted": inserted, "duplicates": len(rows) - inserted}


@readings.post("")
@require("planner")
def ingest(scenario_id: str):
    """Bulk ingest as JSON ``{"readings": [...]}`` or as a CSV body; idempotent by (bin, timestamp)."""
    with g.db() as s:
        row = _scenario(s, scenario_id)
        tz = json.loads(row.fleet_json).get("timezone", "UTC")
        if request.mimetype == "text/csv":
            with tempfile.NamedTemporaryFile("wb", suffix=".csv", dir=_ext()["files"], delete=False) as fh:
                fh.write(request.get_data())
            try:
                frame = load_readings(Path(fh.name), tz)
            except ScenarioError as exc:
                raise APIError(422, "invalid_readings", str(exc).replace(fh.name, "request body")) from exc
            finally:
                Path(fh.name).unlink(missing_ok=True)
        else:
            body = parse(ReadingsIn, request.get_json(silent=False))
            stamps = [pd.Timestamp(r.timestamp) for r in body.readings]
            stamps = [t.tz_localize(tz) if t.tzinfo is None else t for t in stamps]
            frame = pd.DataFrame(
                {
                    "bin_id": [r.bin_id for r in body.readings],
                    "timestamp": stamps,
                    "fill_pct": [r.fill_pct for r in body.readings],
                }
            )
        known = set(pd.read_csv(io.StringIO(row.bins_csv), dtype={"bin_id": str})["bin_id"])
        result = _insert_readings(s, scenario_id, frame, known)
        s.commit()
    return jsonify(result), 201 if result["inserted"] else 200


@readings.get("")
@require("viewer")
def query_readings(scenario_id: str):
    q = parse(ReadingQuery, request.args.to_dict())
    with g.db() as s:
        _scenario(s, scenario_id)
        cond = [ReadingRow.scenario_id == scenario_id]
        if q.bin_id:
            cond.append(ReadingRow.bin_id == q.bin_id)
        if q.start is not None:
            cond.append(ReadingRow.ts >= _naive_utc(q.start))
        if q.end is not None:
            cond.append(ReadingRow.ts <= _naive_utc(q.end))
        rows, total = _rows_page(s, ReadingRow, q, (ReadingRow.bin_id, ReadingRow.ts), tuple(cond))
        items = [{"bin_id": r.bin_id, "timestamp": r.ts.isoformat() + "Z", "fill_pct": r.fill_pct} for r in rows]
    return _page(items, total, q)


def _naive_utc(t: Any) -> Any:
    ts = pd.Timestamp(t)
    return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).to_pydatetime()


# -- forecast ----------------------------------------------------------------
@forecasts.get("")
@require("viewer")
def forecast(scenario_id: str):
    q = parse(ForecastQuery, request.args.to_dict())
    with g.db() as s:
        row = _scenario(s, scenario_id)
        data = s.execute(
            select(ReadingRow.bin_id, ReadingRow.ts, ReadingRow.fill_pct).where(ReadingRow.scenario_id == scenario_id)
        ).all()
    if not data:
        raise APIError(409, "no_readings", "the scenario has no sensor readings yet")
    fleet = FleetIn.model_validate_json(row.fleet_json)
    frame = pd.DataFrame(data, columns=["bin_id", "timestamp", "fill_pct"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize("UTC")
    bins = pd.read_csv(io.StringIO(row.bins_csv), dtype={"bin_id": str}, keep_default_na=False)
    when = pd.Timestamp(q.at)
    when = when.tz_localize(fleet.timezone) if when.tzinfo is None else when
    return jsonify(forecast_bins(frame, bins, fleet.timezone, fleet, when))


# -- plans -------------------------------------------------------------------
def _plan_out(row: PlanRow) -> dict[str, Any]:
    links = {"self": url_for("plans.get_plan", plan_id=row.id)}
    if row.status == "done":
        links["routes"] = url_for("plans.plan_geojson", plan_id=row.id)
        links["map"] = url_for("plans.plan_map", plan_id=row.id)
    return {
        "id": row.id,
        "scenario_id": row.scenario_id,
        "status": row.status,
        "error": row.error,
        "created": row.created.isoformat() + "Z",
        "started": row.started.isoformat() + "Z" if row.started else None,
        "finished": row.finished.isoformat() + "Z" if row.finished else None,
        "options": json.loads(row.options_json),
        "summary": _summary(row),
        "links": links,
    }


def _summary(row: PlanRow) -> dict[str, Any] | None:
    if not row.summary_json:
        return None
    plan = json.loads(row.summary_json)
    return {
        k: plan[k] for k in ("totals", "decisions", "unserved_required", "engine", "status", "timings_s") if k in plan
    }


def _plan(s, plan_id: str) -> PlanRow:
    row = s.get(PlanRow, plan_id)
    if row is None:
        raise APIError(404, "not_found", f"plan {plan_id} not found")
    return row


@plans.post("/scenarios/<scenario_id>/plans")
@require("planner")
def start_plan(scenario_id: str):
    body = parse(PlanIn, request.get_json(silent=False))
    limit = current_app.config["PLAN_TIME_LIMIT_S"]
    if body.time_limit_s > limit:
        raise APIError(
            422,
            "validation_error",
            "the request is not valid",
            [{"field": "time_limit_s", "message": f"at most {limit:g} s on this server"}],
        )
    options = {**body.model_dump(mode="json"), "tiles": request.args.get("tiles") or None}
    with g.db() as s:
        _scenario(s, scenario_id)
        row = PlanRow(scenario_id=scenario_id, options_json=json.dumps(options))
        s.add(row)
        s.commit()
        out = _plan_out(row)
    _ext()["jobs"].submit(row.id)
    resp = jsonify(out)
    resp.status_code = 202
    resp.headers["Location"] = out["links"]["self"]
    return resp


@plans.get("/plans")
@require("viewer")
def list_plans():
    q = parse(ListQuery, request.args.to_dict())
    with g.db() as s:
        rows, total = _rows_page(s, PlanRow, q, (PlanRow.created.desc(),))
        return _page([_plan_out(r) for r in rows], total, q)


@plans.get("/plans/<plan_id>")
@require("viewer")
def get_plan(plan_id: str):
    with g.db() as s:
        return jsonify(_plan_out(_plan(s, plan_id)))


def _done(s, plan_id: str) -> PlanRow:
    row = _plan(s, plan_id)
    if row.status != "done":
        raise APIError(409, "not_ready", f"plan {plan_id} is {row.status}", {"status": row.status, "error": row.error})
    return row


@plans.get("/plans/<plan_id>/routes.geojson")
@require("viewer")
def plan_geojson(plan_id: str):
    with g.db() as s:
        row = _done(s, plan_id)
    return Response(
        row.geojson,
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="plan-{row.id}.geojson"'},
    )


@plans.get("/plans/<plan_id>/vehicles/<vehicle_id>.geojson")
@require("viewer")
def vehicle_geojson(plan_id: str, vehicle_id: str):
    with g.db() as s:
        row = _done(s, plan_id)
    collection = json.loads(row.geojson or "{}")
    if not any(f["properties"].get("vehicle_id") == vehicle_id for f in collection["features"]):
        raise APIError(404, "not_found", f"vehicle {vehicle_id} has no route in plan {plan_id}")
    body = json.dumps(vehicle_collection(collection, vehicle_id), separators=(",", ":"))
    return Response(
        body,
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="plan-{row.id}-{safe_name(vehicle_id)}.geojson"'},
    )


@plans.get("/plans/<plan_id>/map")
@require("viewer")
def plan_map(plan_id: str):
    with g.db() as s:
        row = _done(s, plan_id)
    return Response(row.map_html, mimetype="text/html")


@plans.delete("/plans/<plan_id>")
@require("planner")
def delete_plan(plan_id: str):
    with g.db() as s:
        row = _plan(s, plan_id)
        if row.status == "running":
            raise APIError(409, "conflict", "the plan is being solved; delete it when it is done or failed")
        s.delete(row)
        s.commit()
    return Response(status=204)


# -- docs --------------------------------------------------------------------
@docs.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@docs.get("/docs")
def docs_page():
    return Response(DOCS_HTML, mimetype="text/html")


def init_app(app: Flask) -> None:
    for bp in (health, scenarios, readings, forecasts, plans, docs):
        app.register_blueprint(bp)
