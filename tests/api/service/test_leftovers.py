"""What an upload cut short leaves on disk is removed when a server starts, and nothing else is."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from binroute.api.service import create_app
from binroute.api.service.client import call, scenario_upload, served_replicas
from binroute.api.service.db import create_key, create_org
from binroute.api.service.leftovers import LEFTOVER_AGE_S, sweep_leftovers

from .helpers import hdr, make_app, serve_pid, upload
from .servers import new_database

HOUR_AGO = time.time() - 2 * LEFTOVER_AGE_S


def _aged(path: Path) -> Path:
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    return path


def test_a_starting_server_removes_only_old_leftovers_no_row_points_to(small, tmp_path):
    """Old upload folders, `.part` copies and networks of scenarios without a row go; the rest stays."""
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    try:
        client = app.test_client()
        sid = upload(client, app, small, "kept").json["id"]
        files = app.extensions["binroute"]["files"]
        networks = files / "networks"
        kept_network = _aged(networks / f"{sid}.osm.pbf")
        assert kept_network.is_file()
        old_upload = files / "upload-abc123"
        (old_upload / "inner").mkdir(parents=True)
        (old_upload / "inner" / "readings.csv").write_text("bin_id\n")
        _aged(old_upload)
        new_upload = files / "upload-def456"
        new_upload.mkdir()
        orphan = networks / f"{uuid.uuid4().hex}.osm.pbf"
        orphan.write_bytes(b"half a network")
        _aged(orphan)
        young_orphan = networks / f"{uuid.uuid4().hex}.osm"
        young_orphan.write_bytes(b"another replica's upload, just moved")
        part = networks / "by-content" / "tmpab12.part"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(b"half a copy")
        _aged(part)
        by_digest = networks / f"{'a' * 64}.osm.pbf"  # a job's copy named by content: not a scenario's
        by_digest.write_bytes(b"x")
        _aged(by_digest)
        other = files / "notes.txt"
        other.write_text("the operator's")
        _aged(other)

        removed = sweep_leftovers(files, app.extensions["binroute"]["sessions"])

        assert sorted(removed) == sorted([old_upload, orphan, part])
        for gone in removed:
            assert not gone.exists()
        for stays in (kept_network, new_upload, young_orphan, by_digest, other):
            assert stays.exists(), stays
        assert client.get(f"/api/v1/scenarios/{sid}", headers=hdr(app, "viewer")).json["readings"]
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


@pytest.mark.service
@pytest.mark.slow
def test_serve_killed_during_a_scenario_upload_stores_nothing_of_it_and_leaves_nothing(postgres, small, tmp_path):
    """`kill -9` of `serve` while it unpacks an upload: no scenario, the same name uploads after, no files left.

    The upload is held in the server by a large readings file; the kill comes once its folder
    exists. After the restart (its leftovers aged past LEFTOVER_AGE_S) the data folder holds
    nothing of it, and uploading it again is answered 201.
    """
    database = new_database(postgres, f"t_{uuid.uuid4().hex[:12]}")
    data = tmp_path / "data"
    options = ("--rate-limit", "off", "--data-dir", str(data))
    setup = create_app({"DATABASE_URL": database, "DATA_DIR": str(tmp_path / "setup"), "RESUME_JOBS": False})
    with setup.extensions["binroute"]["sessions"]() as s:
        key = create_key(s, "p", "planner", create_org(s, "faults").id)[1]
    setup.extensions["binroute"]["jobs"].shutdown()
    bins = [line.split(",")[0] for line in (small / "bins.csv").read_text().splitlines()[1:]]
    big = tmp_path / "big"
    big.mkdir()
    for name in ("bins.csv", "fleet.json", "network.osm.pbf"):
        (big / name).write_bytes((small / name).read_bytes())
    lines = ["bin_id,timestamp,fill_pct"]
    lines += [
        f"{b},2026-{1 + d // 28:02d}-{1 + d % 28:02d}T{h:02d}:00:00Z,{(h * 4) % 100}"
        for d in range(300)
        for h in range(24)
        for b in bins[:20]
    ]
    (big / "readings.csv").write_text("\n".join(lines) + "\n")
    body, ctype = scenario_upload("cut short", big)
    answer: dict[str, object] = {}
    with served_replicas(database, 1, cwd=tmp_path, options=options) as (base,):
        pid = serve_pid(base)

        def post() -> None:
            try:
                answer["code"] = call(f"{base}/api/v1/scenarios", key, body, ctype, timeout_s=120)[0]
            except OSError as exc:
                answer["error"] = exc

        thread = threading.Thread(target=post)
        thread.start()
        deadline = time.monotonic() + 60
        while not list(data.glob("upload-*/readings.csv")) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert list(data.glob("upload-*")), "the upload never reached the server"
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=120)
    assert "code" not in answer, answer  # never acknowledged
    left = [p for p in data.rglob("*") if p.name.startswith("upload-") or p.suffix == ".part"]
    assert left, "the kill left nothing to sweep: it came too late to test anything"
    for path in [*data.rglob("*"), data]:
        os.utime(path, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)
    with served_replicas(database, 1, cwd=tmp_path, options=options) as (base,):
        code, raw = call(f"{base}/api/v1/scenarios", key)
        assert code == 200 and json.loads(raw)["total"] == 0, raw[:300]
        assert not [p for p in data.rglob("*") if p.name.startswith("upload-") or p.suffix == ".part"]
        assert not list((data / "networks").glob("*.osm*"))
        body, ctype = scenario_upload("cut short", small)
        code, raw = call(f"{base}/api/v1/scenarios", key, body, ctype, timeout_s=120)
        assert code == 201, raw[:300]
