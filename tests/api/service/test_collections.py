"""``/api/v1/scenarios/<id>/collections``: ingest (JSON and CSV, idempotent), queries, errors, forecasts and plans."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from binroute.api.pipeline import load_scenario
from binroute.api.pipeline.scenario import load_readings
from binroute.api.service import create_app
from binroute.api.service.client import multipart_body
from binroute.api.service.db import ScenarioRow, create_key, create_org
from binroute.api.service.jobs import export_scenario
from binroute.routing.forecast import CANDIDATES

from ..pipeline.test_collections import collections_from_readings
from .helpers import N_BINS

ITEMS = [
    {"bin_id": "B0001", "collected_at": "2026-11-20T08:00:00Z", "fill_pct": 85, "kg": 40.5},
    {"bin_id": "B0001", "collected_at": "2026-11-22T08:10:00Z", "fill_pct": None},
    {"bin_id": "B0002", "collected_at": "2026-11-21T09:00:00+02:00", "fill_pct": 60},
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """An app with one organisation and its planner and viewer keys."""
    root = tmp_path_factory.mktemp("collections")
    application = create_app(
        {"DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}", "DATA_DIR": str(root / "data"), "RESUME_JOBS": False}
    )
    with application.extensions["binroute"]["sessions"]() as s:
        org = create_org(s, "log council").id
        application.config["TEST_KEYS"] = {r: create_key(s, r, r, org)[1] for r in ("planner", "viewer")}
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


def hdr(app, role="planner"):
    return {"X-API-Key": app.config["TEST_KEYS"][role]}


@pytest.fixture(scope="module")
def log_csv(small):
    """A collection log of the small scenario, derived from its readings."""
    readings = load_readings(small / "readings.csv", "Europe/Helsinki")
    return collections_from_readings(readings).to_csv(index=False).encode()


def _create(app, small, name, *, collections=None, readings=False):
    files = {
        "fleet": ("fleet.json", (small / "fleet.json").read_bytes()),
        "bins": ("bins.csv", (small / "bins.csv").read_bytes()),
        "network": ("n.osm.pbf", (small / "network.osm.pbf").read_bytes()),
    }
    if readings:
        files["readings"] = ("readings.csv", (small / "readings.csv").read_bytes())
    if collections is not None:
        files["collections"] = ("collections.csv", collections)
    body, ctype = multipart_body({"name": name}, files)
    return app.test_client().post("/api/v1/scenarios", data=body, content_type=ctype, headers=hdr(app))


@pytest.fixture(scope="module")
def empty(app, small):
    """A scenario with no fill data yet."""
    resp = _create(app, small, "no data yet")
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def test_json_and_csv_ingest_is_idempotent(app, empty):
    """Posting the same collections twice stores them once, as JSON or as CSV; the scenario counts them."""
    client, url = app.test_client(), f"/api/v1/scenarios/{empty}/collections"
    first = client.post(url, json={"collections": ITEMS}, headers=hdr(app))
    again = client.post(url, json={"collections": ITEMS}, headers=hdr(app))
    assert first.status_code == 201 and first.json == {"received": 3, "inserted": 3, "duplicates": 0}
    assert again.status_code == 200 and again.json == {"received": 3, "inserted": 0, "duplicates": 3}
    csv_body = "bin_id,collected_at,fill_pct,kg\nB0002,2026-11-21T07:00:00Z,60,\nB0003,2026-11-21T10:00:00,,12\n"
    resp = client.post(url, data=csv_body, content_type="text/csv", headers=hdr(app))
    assert resp.json == {"received": 2, "inserted": 1, "duplicates": 1}  # B0002 07:00Z is 09:00+02:00 above
    resp = client.post(url, data=csv_body, content_type="text/csv", headers=hdr(app))
    assert resp.status_code == 200 and resp.json["inserted"] == 0
    assert client.get(f"/api/v1/scenarios/{empty}", headers=hdr(app, "viewer")).json["collections"] == 4


def test_queries_page_and_filter(app, empty):
    """The list pages in (bin, time) order and filters by bin and by time; times come back in UTC."""
    client, url = app.test_client(), f"/api/v1/scenarios/{empty}/collections"
    client.post(url, json={"collections": ITEMS}, headers=hdr(app))
    everything = client.get(url, headers=hdr(app, "viewer")).json
    assert everything["total"] == len(everything["items"]) >= 3
    pages = [client.get(f"{url}?limit=1&offset={i}", headers=hdr(app, "viewer")).json for i in range(3)]
    assert [p["items"][0] for p in pages] == everything["items"][:3] and pages[0]["total"] == everything["total"]
    b1 = client.get(f"{url}?bin_id=B0001", headers=hdr(app, "viewer")).json["items"]
    assert b1 == [
        {"bin_id": "B0001", "collected_at": "2026-11-20T08:00:00Z", "fill_pct": 85.0, "kg": 40.5},
        {"bin_id": "B0001", "collected_at": "2026-11-22T08:10:00Z", "fill_pct": None, "kg": None},
    ]
    late = client.get(f"{url}?bin_id=B0001&from=2026-11-21T00:00:00Z", headers=hdr(app, "viewer")).json
    early = client.get(f"{url}?to=2026-11-20T23:59:00Z", headers=hdr(app, "viewer")).json
    assert [r["collected_at"] for r in late["items"]] == ["2026-11-22T08:10:00Z"]
    assert {(r["bin_id"], r["collected_at"]) for r in early["items"]} == {("B0001", "2026-11-20T08:00:00Z")}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"fill_pct": 130}, "collections.1.fill_pct"),
        ({"fill_pct": -1}, "collections.1.fill_pct"),
        ({"kg": -2}, "collections.1.kg"),
        ({"collected_at": "yesterday"}, "collections.1.collected_at"),
        ({"bin_id": "   "}, "collections.1.bin_id"),  # passes the schema, refused by the file's own checks
        ({"colour": "red"}, "collections.1.colour"),
    ],
)
def test_bad_item_is_422_naming_index_and_field(app, empty, item, field):
    """A bad item is refused with its index and field, and nothing of the request is stored."""
    client, url = app.test_client(), f"/api/v1/scenarios/{empty}/collections"
    before = client.get(url, headers=hdr(app, "viewer")).json["total"]
    good = {"bin_id": "B0004", "collected_at": "2026-11-19T08:00:00Z", "fill_pct": 70}
    resp = client.post(url, json={"collections": [good, good | item]}, headers=hdr(app))
    assert resp.status_code == 422, resp.json
    assert field in {d["field"] for d in resp.json["error"]["details"]}
    assert client.get(url, headers=hdr(app, "viewer")).json["total"] == before


def test_bad_csv_line_and_unknown_bin_are_422(app, empty):
    """A bad CSV body names the line and field; a bin not in the scenario is refused by id."""
    client, url = app.test_client(), f"/api/v1/scenarios/{empty}/collections"
    bad = "bin_id,collected_at,fill_pct\nB0001,2026-11-01T08:00:00Z,50\nB0001,2026-11-02T08:00:00Z,130\n"
    resp = client.post(url, data=bad, content_type="text/csv", headers=hdr(app))
    assert resp.status_code == 422 and resp.json["error"]["code"] == "invalid_collections"
    assert resp.json["error"]["message"] == "request body line 3: fill_pct 130 is above 100"
    assert resp.json["error"]["details"] == {"line": 3, "field": "fill_pct"}
    unknown = {"collections": [{"bin_id": "NOPE", "collected_at": "2026-11-01T08:00", "fill_pct": 50}]}
    resp = client.post(url, json=unknown, headers=hdr(app))
    assert resp.status_code == 422 and resp.json["error"]["details"] == {"bin_ids": ["NOPE"]}
    viewer = client.post(url, json=unknown, headers=hdr(app, "viewer"))
    assert viewer.status_code == 403


def test_collections_only_scenario_forecasts_and_plans_from_its_log(app, small, log_csv, tmp_path):
    """A scenario created with a collections file and no readings forecasts every bin; plan jobs get the log."""
    resp = _create(app, small, "log only", collections=log_csv)
    assert resp.status_code == 201, resp.json
    sid = resp.json["id"]
    assert resp.json["readings"] == 0 and resp.json["collections"] == len(pd.read_csv(io.BytesIO(log_csv)))
    got = app.test_client().get(f"/api/v1/scenarios/{sid}/forecast?at=2026-11-23T10:00", headers=hdr(app, "viewer"))
    assert got.status_code == 200, got.json
    bins = got.json["bins"]
    assert len(bins) == N_BINS
    assert sum(b["fill_pct"] is not None for b in bins.values()) == N_BINS
    assert {b["model"] for b in bins.values()} <= set(CANDIDATES)
    with app.extensions["binroute"]["sessions"]() as s:
        export_scenario(s, s.get(ScenarioRow, sid), tmp_path / "scn", tmp_path / "networks")
    scn = load_scenario(tmp_path / "scn")
    assert scn.readings.empty and scn.collections is not None
    assert len(scn.collections) == resp.json["collections"]


def test_forecast_needs_readings_or_collections(app, small):
    """Without any fill data the forecast is a 409; a bad collections upload names the file and line."""
    client = app.test_client()
    sid = _create(app, small, "nothing").json["id"]
    resp = client.get(f"/api/v1/scenarios/{sid}/forecast?at=2026-11-23T10:00", headers=hdr(app, "viewer"))
    assert resp.status_code == 409 and "collections" in resp.json["error"]["message"]
    bad = _create(app, small, "bad log", collections=b"bin_id,collected_at,fill_pct\nB0001,soon,50\n")
    assert bad.status_code == 422 and "collections.csv line 2: collected_at 'soon'" in bad.json["error"]["message"]
