"""Shared code of the HTTP service tests: the apps they build, requests they make, job rows they change."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from sqlalchemy import update
from werkzeug.serving import make_server

from binroute.api.service import create_app
from binroute.api.service.client import multipart_body
from binroute.api.service.db import ScenarioRow, create_key, create_org

#: Bins in the ``small`` fixture's scenario, cut from the sample.
N_BINS = 30
#: The options of the :func:`jobs` fixture's plan and simulation: a one-second search.
JOB_OPTIONS = '{"time_limit_s": 1}'
#: A plan request of a two-second search, for the task-queue tests.
PLAN = {"date": "2026-11-23", "time_limit_s": 2, "engine": "ortools"}
#: A tiny run: two days of the 30-bin scenario, two policies, a few solutions a day.
BODY = {
    "from": "2026-11-02",
    "to": "2026-11-03",
    "policies": ["timetable:mon", "threshold:80"],
    "solution_limit": 3,
    "engine": "ortools",
}


def make_app(database_url: str, root):
    """The app the HTTP tests share, on ``database_url``, with a planner and a viewer key."""
    application = create_app(
        {
            "DATABASE_URL": database_url,
            "DATA_DIR": str(root / "data"),
            "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
            "PLAN_TIME_LIMIT_S": 60,
            "SOLVE_WORKERS": 2,
        }
    )
    with application.extensions["binroute"]["sessions"]() as s:
        org = create_org(s, "test council").id
        application.config["TEST_KEYS"] = {
            "planner": create_key(s, "p", "planner", org)[1],
            "viewer": create_key(s, "v", "viewer", org)[1],
        }
    return application


def add_other_org(app, role: str) -> None:
    """Give the app a second organisation with one key of ``role``, as its test key ``other``."""
    with app.extensions["binroute"]["sessions"]() as s:
        other = create_org(s, "other council").id
        app.config["TEST_KEYS"]["other"] = create_key(s, "o", role, other)[1]


def hdr(app, role="planner"):
    """The API-key header of the app's test key with ``role``."""
    return {"X-API-Key": app.config["TEST_KEYS"][role]}


def multipart(name: str, files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A scenario upload's multipart body and content type."""
    return multipart_body({"name": name}, files)


def scenario_files(folder, *, readings=True, bins=None):
    """A scenario folder's files as upload parts; ``bins`` replaces its bins.csv."""
    files = {
        "fleet": ("fleet.json", (folder / "fleet.json").read_bytes()),
        "bins": ("bins.csv", bins if bins is not None else (folder / "bins.csv").read_bytes()),
        "network": ("helsinki.osm.pbf", (folder / "network.osm.pbf").read_bytes()),
    }
    if readings:
        files["readings"] = ("readings.csv", (folder / "readings.csv").read_bytes())
    return files


def upload(client, app, folder, name, *, readings=True):
    """Upload a scenario folder as ``name`` with the planner key."""
    body, ctype = multipart(name, scenario_files(folder, readings=readings))
    return client.post("/api/v1/scenarios", data=body, headers=hdr(app), content_type=ctype)


def wait_for(client, app, url, timeout=180):
    """The job at ``url`` once it is done or failed."""
    end = time.time() + timeout
    while time.time() < end:
        plan = client.get(url, headers=hdr(app, "viewer")).json
        if plan["status"] in ("done", "failed"):
            return plan
        time.sleep(0.5)
    raise AssertionError("plan did not finish")


def queued_app(database_url: str, broker: str, root: Path, small: Path):
    """An app that queues solves on ``broker``, with a scenario whose network file is gone from the server's disk."""
    app = create_app({"DATABASE_URL": database_url, "DATA_DIR": str(root / "server"), "BROKER_URL": broker})
    with app.extensions["binroute"]["sessions"]() as s:
        key = create_key(s, "p", "planner", create_org(s, "queue town").id)[1]
    body, ctype = multipart("queued", scenario_files(small))
    resp = app.test_client().post("/api/v1/scenarios", data=body, content_type=ctype, headers={"X-API-Key": key})
    assert resp.status_code == 201, resp.json
    with app.extensions["binroute"]["sessions"]() as s:
        Path(s.get(ScenarioRow, resp.json["id"]).network_file).unlink()  # workers read it from the database
    return app, key, resp.json["id"]


def lose_heartbeat(factory, model, job_id: str) -> None:
    """Forget a running job's heartbeat, as when the process running it died long ago."""
    with factory() as s:
        s.execute(update(model).where(model.id == job_id).values(heartbeat=None))
        s.commit()


def set_row(factory, model, job_id: str, **values) -> None:
    """Set columns of a job's row."""
    with factory() as s:
        s.execute(update(model).where(model.id == job_id).values(**values))
        s.commit()


def get_row(factory, model, job_id: str):
    """A job's row as it is now, detached from its session."""
    with factory() as s:
        row = s.get(model, job_id)
        s.expunge(row)
        return row


#: The live-day tests' plan: the small scenario's day, a short deterministic search.
LIVE_PLAN = {"date": "2026-11-23", "solution_limit": 50, "time_limit_s": 5, "engine": "ortools", "seed": 0}


def live_clock(hhmm: str):
    """A ``LIVE_CLOCK`` fixed at ``hhmm`` (UTC) on the live-day tests' plan date."""
    from datetime import datetime

    moment = datetime.fromisoformat(f"{LIVE_PLAN['date']}T{hhmm}:00")
    return lambda: moment


def done_plan(client, app, scenario_id: str) -> dict:
    """A plan of the live-day tests' day, solved; its answer."""
    resp = client.post(f"/api/v1/scenarios/{scenario_id}/plans", json=LIVE_PLAN, headers=hdr(app))
    assert resp.status_code == 202, resp.json
    plan = wait_for(client, app, resp.json["links"]["self"])
    assert plan["status"] == "done", plan
    return plan


def crew_token(client, app, plan_id: str, vehicle_id: str) -> dict:
    """A crew token for ``vehicle_id``'s day of the plan: its answer (``token``, ``link``)."""
    resp = client.post(f"/api/v1/plans/{plan_id}/crew-tokens", json={"vehicle_id": vehicle_id}, headers=hdr(app))
    assert resp.status_code == 201, resp.json
    return resp.json


def crew_hdr(token: dict) -> dict:
    """The header of a crew token."""
    return {"X-Crew-Token": token["token"]}


def first_routes(client, app, plan_id: str) -> dict[str, list[str]]:
    """Each used crew's bins in order, in the day view of a plan."""
    day = client.get(f"/api/v1/plans/{plan_id}/day", headers=hdr(app, "viewer")).json
    return {c["vehicle_id"]: [s["bin_id"] for s in c["stops"]] for c in day["crews"]}


class LoopbackServer:
    """The app served on a loopback port in a thread; it can be stopped and started again on the same port."""

    def __init__(self, app) -> None:
        self.app = app
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = None

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def serve_pid(base: str) -> int:
    """The pid of the `serve` process listening at ``base`` (found by its port on its command line)."""
    port = base.rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and port.encode() in args:
            return int(cmdline.parent.name)
    raise AssertionError(f"no serve process on port {port}")
