"""The live day: crew tokens, events (idempotent, any order, 422s naming the field), the day view, the log."""

from __future__ import annotations

import importlib
from collections import Counter
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from binroute.api.cli import main
from binroute.api.service.db import PlanRow
from binroute.api.service.live.events import event_utc
from binroute.geo.turn_matrix import SEARCHES

from .helpers import (
    LoopbackServer,
    add_other_org,
    crew_hdr,
    crew_token,
    done_plan,
    first_routes,
    hdr,
    live_clock,
    make_app,
    upload,
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """An app whose live clock is 08:00 UTC on the plan's day, with a second organisation's key."""
    root = tmp_path_factory.mktemp("live")
    application = make_app(f"sqlite:///{root / 'db.sqlite3'}", root)
    application.config["LIVE_CLOCK"] = live_clock("08:00")
    add_other_org(application, "planner")
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


@pytest.fixture(scope="module")
def day(app, small):
    """A solved plan of the small scenario, its crews' routes and a token for each of the first two crews."""
    client = app.test_client()
    scenario = upload(client, app, small, "live town").json
    plan = done_plan(client, app, scenario["id"])
    routes = first_routes(client, app, plan["id"])
    crews = sorted(v for v, stops in routes.items() if stops)
    assert len(crews) >= 2, routes
    tokens = {v: crew_token(client, app, plan["id"], v) for v in crews[:2]}
    return {"plan": plan, "scenario": scenario, "routes": routes, "crews": crews, "tokens": tokens}


def _event(n: int, kind: str, bin_id: str | None = None, at: str = "2026-11-23T10:00:00+02:00", **more):
    event = {"event_id": f"ev-{n}", "kind": kind, "at": at, **more}
    if bin_id is not None:
        event["bin_id"] = bin_id
    return event


def _log(client, app, scenario_id: str, bin_id: str) -> list[dict]:
    url = f"/api/v1/scenarios/{scenario_id}/collections?bin_id={bin_id}"
    return client.get(url, headers=hdr(app, "viewer")).json["items"]


def test_crew_events_are_idempotent_and_fill_the_collection_log(app, day):
    """A resent batch counts once; each emptying becomes one collection-log row with the fill seen."""
    client = app.test_client()
    crew = day["crews"][0]
    token = day["tokens"][crew]
    first, second = day["routes"][crew][:2]
    url = f"/api/v1/plans/{day['plan']['id']}/events"
    batch = {
        "events": [
            _event(1, "done", first, fill="three_quarters", at="2026-11-23T09:10:00+02:00"),
            _event(2, "not_out", second, at="2026-11-23T09:15:00+02:00"),
        ]
    }
    resp = client.post(url, json=batch, headers=crew_hdr(token))
    assert resp.status_code == 201, resp.json
    assert resp.json == {"received": 2, "inserted": 2, "duplicates": 0, "collections": 1}
    again = client.post(url, json=batch, headers=crew_hdr(token))
    assert again.status_code == 200
    assert again.json == {"received": 2, "inserted": 0, "duplicates": 2, "collections": 0}
    rows = _log(client, app, day["scenario"]["id"], first)
    assert [(r["collected_at"], r["fill_pct"]) for r in rows if r["collected_at"].startswith("2026-11-23")] == [
        ("2026-11-23T07:10:00Z", 75.0)
    ]
    state = client.get(f"/api/v1/plans/{day['plan']['id']}/day", headers=crew_hdr(token)).json
    assert [c["vehicle_id"] for c in state["crews"]] == [crew]
    mine = state["crews"][0]
    assert mine["stops_done"] == 2
    assert mine["stops_left"] == len(day["routes"][crew]) - 2
    assert [e["kind"] for e in mine["exceptions"]] == ["not_out"]
    assert mine["late_min"] is not None
    statuses = {s["bin_id"]: s["status"] for s in mine["stops"]}
    assert statuses[first] == "done" and statuses[second] == "not_out"


def test_out_of_order_and_late_events_settle_by_their_own_time(app, day):
    """A later-timed event sent first still wins; an earlier one arriving late does not undo it."""
    client = app.test_client()
    crew = day["crews"][1]
    token = day["tokens"][crew]
    stop = day["routes"][crew][0]
    url = f"/api/v1/plans/{day['plan']['id']}/events"
    late = {"events": [_event(11, "done", stop, fill="full", at="2026-11-23T09:40:00+02:00")]}
    early = {"events": [_event(10, "blocked", stop, at="2026-11-23T09:20:00+02:00")]}
    assert client.post(url, json=late, headers=crew_hdr(token)).status_code == 201
    assert client.post(url, json=early, headers=crew_hdr(token)).status_code == 201
    state = client.get(f"/api/v1/plans/{day['plan']['id']}/day", headers=hdr(app, "viewer")).json
    mine = next(c for c in state["crews"] if c["vehicle_id"] == crew)
    assert next(s for s in mine["stops"] if s["bin_id"] == stop)["status"] == "done"
    assert [e["kind"] for e in mine["exceptions"]] == ["blocked"]
    assert len(state["crews"]) == len([v for v, s in day["routes"].items() if s])


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"event_id": "x1", "kind": "done", "at": "2026-11-23T10:00:00Z", "bin_id": "B0001"}, "events.0.fill"),
        ({"event_id": "x2", "kind": "done", "at": "2026-11-23T10:00:00Z", "fill": "full"}, "events.0.bin_id"),
        ({"event_id": "x3", "kind": "emptied", "at": "2026-11-23T10:00:00Z"}, "events.0.kind"),
        (
            {"event_id": "x 4", "kind": "position", "at": "2026-11-23T10:00:00Z", "lon": 1, "lat": 2},
            "events.0.event_id",
        ),
        ({"event_id": "x5", "kind": "position", "at": "2026-11-23T10:00:00Z"}, "events.0.lat"),
        ({"event_id": "x6", "kind": "fly_tip", "at": "2026-11-23T10:00:00Z"}, "events.0.lat"),
        ({"event_id": "x7", "kind": "done", "at": "10:00", "bin_id": "B0001", "fill": "full"}, "events.0.at"),
        (
            {"event_id": "x8", "kind": "done", "at": "2026-11-23T10:00:00Z", "bin_id": "NOPE", "fill": "full"},
            "events.0.bin_id",
        ),
        (
            {"event_id": "x9", "kind": "not_out", "at": "2026-11-23T10:00:00Z", "bin_id": "B0001", "fill": "full"},
            "events.0.fill",
        ),
    ],
)
def test_bad_events_are_422_naming_the_field(app, day, event, field):
    """A bad event is refused with a 422 whose details name its field; nothing of the batch is stored."""
    token = day["tokens"][day["crews"][0]]
    resp = app.test_client().post(
        f"/api/v1/plans/{day['plan']['id']}/events", json={"events": [event]}, headers=crew_hdr(token)
    )
    assert resp.status_code == 422, resp.json
    assert field in [d["field"] for d in resp.json["error"]["details"]]


def test_a_crew_token_sees_only_its_own_crew_day(app, day):
    """Another crew's vehicle is a 404; another organisation's key a 404; a revoked or expired token a 401."""
    client = app.test_client()
    plan_id = day["plan"]["id"]
    mine, theirs = day["crews"][:2]
    token = day["tokens"][mine]
    other_crew = {"events": [_event(20, "position", vehicle_id=theirs, lon=24.94, lat=60.17)]}
    assert client.post(f"/api/v1/plans/{plan_id}/events", json=other_crew, headers=crew_hdr(token)).status_code == 404
    assert (
        client.get(f"/api/v1/plans/{plan_id}/day", headers={"X-API-Key": app.config["TEST_KEYS"]["other"]}).status_code
        == 404
    )
    assert client.get(f"/api/v1/plans/{plan_id}/crew-tokens", headers=crew_hdr(token)).status_code == 401
    routes = f"/api/v1/plans/{plan_id}/vehicles/{{}}.geojson"
    own = client.get(routes.format(mine), headers=crew_hdr(token))
    assert own.status_code == 200 and {f["properties"].get("vehicle_id") for f in own.json["features"]} >= {mine}
    assert client.get(routes.format(theirs), headers=crew_hdr(token)).status_code == 404
    assert client.get(f"/api/v1/plans/{plan_id}/routes.geojson", headers=crew_hdr(token)).status_code == 401
    spare = crew_token(client, app, plan_id, theirs)
    assert client.get(f"/api/v1/plans/{plan_id}/day", headers=crew_hdr(spare)).status_code == 200
    assert client.delete(f"/api/v1/plans/{plan_id}/crew-tokens/{spare['id']}", headers=hdr(app)).status_code == 204
    revoked = client.get(f"/api/v1/plans/{plan_id}/day", headers=crew_hdr(spare))
    assert revoked.status_code == 401 and "revoked" in revoked.json["error"]["message"]
    app.config["LIVE_CLOCK"] = live_clock("22:00")  # midnight in Helsinki
    try:
        expired = client.get(f"/api/v1/plans/{plan_id}/day", headers=crew_hdr(token))
        assert expired.status_code == 401 and "over" in expired.json["error"]["message"]
        assert (
            client.post(f"/api/v1/plans/{plan_id}/crew-tokens", json={"vehicle_id": mine}, headers=hdr(app)).status_code
            == 409
        )
    finally:
        app.config["LIVE_CLOCK"] = live_clock("08:00")
    bad = client.post(f"/api/v1/plans/{plan_id}/crew-tokens", json={"vehicle_id": "RCV99"}, headers=hdr(app))
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "vehicle_id"


def test_crew_page_is_served_with_leaflet(app, day):
    """The crew page needs no key, inlines Leaflet and reads its token from the link's fragment."""
    link = day["tokens"][day["crews"][0]]["link"]
    assert "#crew_" in link
    resp = app.test_client().get(link.split("#")[0])
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "L.map(" in page and "__LEAFLET_JS__" not in page and "X-Crew-Token" in page


REPLAN = {"at": "2026-11-23T11:00:00+02:00", "solution_limit": 30, "time_limit_s": None, "seed": 0}


def _served(client, app, plan_id: str) -> dict[str, str]:
    return {b: v for v, stops in first_routes(client, app, plan_id).items() for b in stops}


def test_replan_without_a_breakdown_keeps_crews_on_their_stops(app, day):
    """A re-plan as of 11:00 drops what is done or not out, keeps >= 90 % of stops with their crew, checks out."""
    client = app.test_client()
    plan_id = day["plan"]["id"]
    before = _served(client, app, plan_id)
    searched = Counter(SEARCHES)
    networks = app.extensions["binroute"]["files"] / "networks"
    assert list(networks.glob("*.binroute-drives.npz"))  # the morning plan's process kept the drives it searched
    resp = client.post(f"/api/v1/plans/{plan_id}/replan", json=REPLAN, headers=hdr(app))
    assert resp.status_code == 201, resp.json
    out = resp.json
    # The re-plan read the morning's drives: it searched only places the plan did not have, a row from and
    # a column to each (searching its places again would count rows alone, one per place).
    new = Counter(SEARCHES) - searched
    assert new["rows"] == new["columns"] < 5, new
    assert set(out["plan"]["summary"]["timings_s"]) >= {"matrices", "solves"}
    assert out["feasible"] and out["version"] == 2 and out["replaces"] == plan_id
    assert out["kept_share"] >= 0.9 and out["unserved_required"] == []
    assert out["choice"] == "keep" and out["moved_cost"] > 0.9 * out["kept_cost"]  # moving did not save 10 %
    new_id = out["plan"]["id"]
    after = _served(client, app, new_id)
    settled = {day["routes"][day["crews"][0]][0], day["routes"][day["crews"][0]][1], day["routes"][day["crews"][1]][0]}
    assert settled.isdisjoint(after) and set(after) == set(before) - settled
    assert sum(c["stops"] for c in out["changes"]) == len(after)
    state = client.get(f"/api/v1/plans/{plan_id}/day", headers=hdr(app, "viewer")).json
    assert state["plan_id"] == new_id and state["version"] == 2 and state["root_id"] == plan_id
    assert client.get(f"/api/v1/plans/{plan_id}/routes.geojson", headers=hdr(app, "viewer")).status_code == 200


def test_replan_after_a_breakdown_moves_its_stops_and_adds_missed_bins(app, day):
    """A broken-down crew's stops go to the others; a bin reported missed after it was emptied is collected again."""
    client = app.test_client()
    plan_id = day["plan"]["id"]
    broken, other = day["crews"][1], day["crews"][0]
    emptied = day["routes"][other][0]
    events = {
        "events": [
            _event(30, "breakdown", vehicle_id=broken, at="2026-11-23T10:30:00+02:00"),
            _event(31, "missed", emptied, at="2026-11-23T10:45:00+02:00"),
        ]
    }
    assert client.post(f"/api/v1/plans/{plan_id}/events", json=events, headers=hdr(app)).status_code == 201
    before = _served(client, app, plan_id)
    resp = client.post(f"/api/v1/plans/{plan_id}/replan", json=REPLAN, headers=hdr(app))
    assert resp.status_code == 201, resp.json
    out = resp.json
    assert out["feasible"] and out["version"] == 3
    after = _served(client, app, out["plan"]["id"])
    assert broken not in after.values()
    orphans = {b for b, v in before.items() if v == broken}
    assert orphans <= set(after) | set(out["unserved_required"])
    # Every required bin is served, or the answer says why not: the crews out are full (the fleet's shortfall),
    # or no crew left carries the bin's stream (the broken-down lorry was its only one).
    assert sorted(b for bins in out["unserved_why"].values() for b in bins) == sorted(out["unserved_required"])
    for why, bins in out["unserved_why"].items():
        assert "no vehicle carries stream" in why or (out["fleet_short"] and "ran out of" in why), (why, bins)
    assert emptied in after
    change = {c["vehicle_id"]: c for c in out["changes"]}
    assert change[broken]["stops"] == 0 and change[broken]["moved_out"] == len(orphans & set(after))
    assert sum(c["moved_in"] for c in out["changes"]) == change[broken]["moved_out"]
    state = client.get(f"/api/v1/plans/{plan_id}/day", headers=hdr(app, "viewer")).json
    assert {c["vehicle_id"] for c in state["crews"]} == set(day["crews"])  # every crew of the day, stops left or not
    assert next(c for c in state["crews"] if c["vehicle_id"] == broken)["broken_down"]
    versions = [
        client.get(f"/api/v1/plans/{p}", headers=hdr(app, "viewer")).status_code for p in (plan_id, out["replaces"])
    ]
    assert versions == [200, 200]


def test_binroute_replan_prints_the_change_per_crew(app, day):
    """``binroute replan`` asks a running service for a re-plan and prints each crew's change; a bad id exits 2."""
    server = LoopbackServer(app)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        args = ["--url", base, "--key", app.config["TEST_KEYS"]["planner"], "--at", REPLAN["at"]]
        run = CliRunner().invoke(main, ["replan", day["plan"]["id"], *args, "--time-limit", "1"])
        assert run.exit_code == 0, run.output
        assert "version 4" in run.output and "feasible" in run.output
        assert day["crews"][0] in run.output  # the broken-down crew has no route since version 3
        missing = CliRunner().invoke(main, ["replan", "nope", *args])
        assert missing.exit_code == 2 and "not found" in missing.output
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2026-11-23T10:00:00", "2026-11-23T08:00:00"),
        ("2026-03-29T03:30:00", "2026-03-29T01:00:00"),  # skipped by the clocks: taken forward
        ("2026-10-25T03:30:00", "2026-10-25T00:30:00"),  # repeated: taken as summer time
    ],
)
def test_event_times_without_an_offset_are_the_fleet_s_local_time(local, utc):
    """A time without an offset is local to the fleet, daylight-saving gaps and repeats included."""
    assert event_utc(datetime.fromisoformat(local), "Europe/Helsinki") == datetime.fromisoformat(utc)


def test_a_planner_s_stop_event_without_a_vehicle_is_the_route_s_crew(app, day):
    """A stop event sent with a planner key and no vehicle counts for the crew whose current route has the bin."""
    client = app.test_client()
    plan_id = day["plan"]["id"]
    state = client.get(f"/api/v1/plans/{plan_id}/day", headers=hdr(app, "viewer")).json
    crew = next(c for c in state["crews"] if any(s["status"] == "left" for s in c["stops"]))
    stop = next(s for s in crew["stops"] if s["status"] == "left")
    event = _event(40, "damaged", stop["bin_id"], at="2026-11-23T12:00:00+02:00")
    assert client.post(f"/api/v1/plans/{plan_id}/events", json={"events": [event]}, headers=hdr(app)).status_code == 201
    after = client.get(f"/api/v1/plans/{plan_id}/day", headers=hdr(app, "viewer")).json
    mine = next(c for c in after["crews"] if c["vehicle_id"] == crew["vehicle_id"])
    assert mine["exceptions"][-1]["event_id"] == "ev-40" and mine["stops_done"] == crew["stops_done"] + 1


def test_two_re_plans_at_once_store_one_version_and_the_other_is_409(app, day, monkeypatch):
    """When another re-plan stores the same version first, this one answers 409 and stores nothing."""
    blueprint = importlib.import_module("binroute.api.service.blueprints.live")  # the module, not its Blueprint

    real = blueprint.replan_day

    def racing(s, root, newest, *args):
        out = real(s, root, newest, *args)
        with app.extensions["binroute"]["sessions"]() as other:
            other.add(
                PlanRow(
                    org_id=root.org_id,
                    scenario_id=root.scenario_id,
                    options_json=root.options_json,
                    status="done",
                    summary_json=newest.summary_json,
                    geojson=newest.geojson,
                    root_id=root.id,
                    replan_of=newest.id,
                    version=newest.version + 1,
                )
            )
            other.commit()
        return out

    monkeypatch.setattr(blueprint, "replan_day", racing)
    client = app.test_client()
    plan_id = day["plan"]["id"]
    resp = client.post(f"/api/v1/plans/{plan_id}/replan", json=REPLAN, headers=hdr(app))
    assert resp.status_code == 409 and "meanwhile" in resp.json["error"]["message"]
    with app.extensions["binroute"]["sessions"]() as s:
        versions = s.scalars(select(PlanRow.version).where(PlanRow.root_id == plan_id)).all()
    assert sorted(versions) == list(range(2, max(versions) + 1))
