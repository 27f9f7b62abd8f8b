"""``/api/v1/scenarios``: create a scenario from uploaded files or JSON, list, read and delete it."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from flask import Blueprint, Response, g, request, url_for
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from binroute.geo import OSM_SUFFIXES, NetworkError, RoadNetwork, load_network

from ...pipeline import ScenarioError, check_near_roads
from ...pipeline.scenario import FleetIn, load_bins, load_collections, load_fleet, load_readings
from ..db import CollectionRow, PlanRow, ReadingRow, ScenarioRow, SimulationRow, new_id
from ..errors import APIError
from ..networks import by_content, forget_network, network_path, store_network
from ..openapi import Reply, endpoint
from ..schemas import BinPage, ListQuery, ScenarioJsonIn, ScenarioOut, ScenarioPage, VehiclePage
from ..store import (
    audit,
    current_org,
    data_dir,
    find_scenario,
    insert_collections,
    insert_readings,
    rows_page,
    scoped,
)

scenarios = Blueprint("scenarios", __name__, url_prefix="/api/v1/scenarios")


#: The multipart upload a scenario is created from (the handler reads it; a broken one is a 400).
UPLOAD_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["name", "fleet", "bins", "network"],
            "properties": {
                k: {"type": "string", "format": "binary"}
                for k in ("fleet", "bins", "network", "readings", "collections")
            }
            | {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
        }
    }
}


def _scenario_out(s: Session, row: ScenarioRow) -> ScenarioOut:
    fleet = json.loads(row.fleet_json)
    n_read = s.scalar(select(func.count()).select_from(ReadingRow).where(ReadingRow.scenario_id == row.id))
    n_coll = s.scalar(select(func.count()).select_from(CollectionRow).where(CollectionRow.scenario_id == row.id))
    return ScenarioOut(
        id=row.id,
        name=row.name,
        created=row.created,
        bins=max(0, row.bins_csv.count("\n") - 1),
        vehicles=len(fleet.get("vehicles", [])),
        readings=n_read or 0,
        collections=n_coll or 0,
    )


def _validated_files(folder: Path, where: str) -> tuple[FleetIn, pd.DataFrame]:
    try:
        fleet = load_fleet(folder / "fleet.json")
        bins = load_bins(folder / "bins.csv")
    except ScenarioError as exc:
        raise APIError(422, "invalid_scenario", str(exc).replace(str(folder) + "/", ""), {"where": where}) from exc
    return fleet, bins


def _check_near_roads(network: RoadNetwork, fleet: FleetIn, bins: pd.DataFrame) -> None:
    """422 if a bin, depot or facility lies far from every road of the network (:func:`.check_near_roads`)."""
    try:
        check_near_roads(network, fleet, bins, bins_file="bins.csv", fleet_file="fleet.json")
    except ScenarioError as exc:
        raise APIError(422, "invalid_scenario", str(exc), {"where": str(exc).split(":", 1)[0]}) from exc


@endpoint(
    scenarios,
    "POST",
    "",
    summary="Create a scenario from uploaded files "
    "(multipart: name, fleet, bins, network, readings?, collections?) or JSON",
    role="planner",
    body=ScenarioJsonIn,
    other_bodies=UPLOAD_BODY,
    replies={201: ScenarioOut},
    errors=(404, 409),
)
def create_scenario(body: ScenarioJsonIn | None) -> tuple[ScenarioOut, int, dict[str, str]]:
    """Create a scenario from uploaded files (multipart) or from JSON."""
    with tempfile.TemporaryDirectory(prefix="upload-", dir=data_dir()) as tmp:  # see leftovers.py
        folder = Path(tmp)
        network_from: str | None = None
        suffix = ""
        if body is None:
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
            for optional in ("readings", "collections"):
                if optional in request.files:
                    request.files[optional].save(folder / f"{optional}.csv")
            for upload in request.files.values():
                upload.close()
        else:
            name, network_from = body.name, body.network_from
            (folder / "fleet.json").write_text(json.dumps(body.fleet), encoding="utf-8")
            pd.DataFrame(body.bins).to_csv(folder / "bins.csv", index=False)
        fleet, bins = _validated_files(folder, "upload")
        readings_df = collections_df = None
        try:
            if (folder / "readings.csv").is_file():
                readings_df = load_readings(folder / "readings.csv", fleet.timezone)
            if (folder / "collections.csv").is_file():
                collections_df = load_collections(folder / "collections.csv", fleet.timezone)
        except ScenarioError as exc:
            raise APIError(422, "invalid_scenario", str(exc).replace(str(folder) + "/", "")) from exc
        with g.db() as s:
            if s.scalars(scoped(ScenarioRow, ScenarioRow.name == name)).first() is not None:
                raise APIError(409, "conflict", f"a scenario named {name!r} exists already")
            row = ScenarioRow(
                id=new_id(),
                org_id=current_org(),
                name=name,
                fleet_json=(folder / "fleet.json").read_text(encoding="utf-8"),
                bins_csv=(folder / "bins.csv").read_text(encoding="utf-8"),
                network_file="",
            )
            if network_from is not None:
                source = find_scenario(s, network_from)
                origin = network_path(s, source, data_dir() / "networks" / "by-content")
                suffix = next(x for x in OSM_SUFFIXES if origin.name.endswith(x))
                shutil.copy(origin, folder / f"network{suffix}")
            target = data_dir() / "networks" / f"{row.id}{suffix}"
            target.parent.mkdir(exist_ok=True)
            shutil.move(str(folder / f"network{suffix}"), target)
            shared = by_content(target, data_dir() / "networks" / "by-content")
            try:
                network = load_network(shared)
            except NetworkError as exc:
                target.unlink(missing_ok=True)
                shared.unlink(missing_ok=True)  # refused: no graph cache beside it, nothing to keep
                raise APIError(422, "invalid_network", str(exc).replace(str(shared), "network file")) from exc
            try:
                _check_near_roads(network, fleet, bins)
            except APIError:
                target.unlink(missing_ok=True)
                raise
            row.network_file = str(target)
            row.network_sha256 = store_network(s, target)
            s.add(row)
            s.flush()
            if readings_df is not None:
                insert_readings(s, row, readings_df, set(bins["bin_id"]))
            if collections_df is not None:
                insert_collections(s, row, collections_df, set(bins["bin_id"]))
            audit(s, "create", "scenario", row.id, {"name": name})
            s.commit()
            out = _scenario_out(s, row)
    return out, 201, {"Location": url_for("scenarios.get_scenario", scenario_id=row.id)}


@endpoint(
    scenarios,
    "GET",
    "",
    summary="List the organisation's scenarios",
    query=ListQuery,
    replies={200: ScenarioPage},
)
def list_scenarios(query: ListQuery) -> ScenarioPage:
    with g.db() as s:
        rows, total = rows_page(s, ScenarioRow, query, (ScenarioRow.created,))
        items = [_scenario_out(s, r) for r in rows]
        return ScenarioPage.of(items, total, query)


@endpoint(scenarios, "GET", "/<scenario_id>", summary="Get a scenario", replies={200: ScenarioOut})
def get_scenario(scenario_id: str) -> ScenarioOut:
    with g.db() as s:
        return _scenario_out(s, find_scenario(s, scenario_id))


@endpoint(
    scenarios,
    "DELETE",
    "/<scenario_id>",
    summary="Delete a scenario, its readings, collections and plans",
    role="planner",
    replies={204: Reply("deleted")},
    errors=(409,),
)
def delete_scenario(scenario_id: str) -> Response:
    with g.db() as s:
        row = find_scenario(s, scenario_id)
        for job, what in ((PlanRow, "plans"), (SimulationRow, "simulations")):
            busy = s.scalar(
                select(func.count())
                .select_from(job)
                .where(job.scenario_id == scenario_id, job.status.in_(("queued", "running")))
            )
            if busy:
                raise APIError(
                    409, "conflict", f"the scenario has {what} queued or running; wait for them or delete them"
                )
        for table in (ReadingRow, CollectionRow, PlanRow, SimulationRow):
            s.execute(delete(table).where(table.scenario_id == scenario_id))
        Path(row.network_file).unlink(missing_ok=True)
        digest = row.network_sha256
        s.delete(row)
        s.flush()
        forget_network(s, digest, but=scenario_id)
        audit(s, "delete", "scenario", scenario_id, {"name": row.name})
        s.commit()
    return Response(status=204)


@endpoint(
    scenarios,
    "GET",
    "/<scenario_id>/bins",
    summary="Bins of a scenario",
    query=ListQuery,
    replies={200: Reply("a page of bins", BinPage)},
)
def scenario_bins(scenario_id: str, query: ListQuery) -> BinPage:
    with g.db() as s:
        row = find_scenario(s, scenario_id)
    frame = pd.read_csv(io.StringIO(row.bins_csv), dtype={"bin_id": str}, keep_default_na=False)
    items = json.loads(frame.iloc[query.offset : query.offset + query.limit].to_json(orient="records"))
    return BinPage.of(items, len(frame), query)


@endpoint(
    scenarios,
    "GET",
    "/<scenario_id>/vehicles",
    summary="Vehicles of a scenario",
    replies={200: Reply("the vehicles", VehiclePage)},
)
def scenario_vehicles(scenario_id: str) -> VehiclePage:
    with g.db() as s:
        row = find_scenario(s, scenario_id)
    vehicles = json.loads(row.fleet_json)["vehicles"]
    return VehiclePage(items=vehicles, total=len(vehicles), limit=len(vehicles), offset=0)
