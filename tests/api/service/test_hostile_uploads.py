"""Files built to hurt (made by the test, never downloaded): each refused with a 4xx naming its file and problem."""

from __future__ import annotations

import pytest

from binroute.api.service.client import call, multipart_body, served
from binroute.api.service.db import create_key, create_org

from ...hostile import EXPECTED, corpus
from .helpers import hdr, make_app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """An app on SQLite with a planner and a viewer key, no rate limit."""
    application = make_app(f"sqlite:///{tmp_path_factory.mktemp('h') / 'db.sqlite3'}", tmp_path_factory.mktemp("d"))
    application.extensions["binroute"]["rate"] = None
    application.config["MAX_CONTENT_LENGTH"] = 50 * 1024 * 1024  # the server's default: the huge line gets in
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


@pytest.fixture(scope="module")
def files(small):
    """The corpus, built once from the small scenario."""
    return corpus(small)


def _upload(small, name: str, field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    parts = {
        "fleet": ("fleet.json", (small / "fleet.json").read_bytes()),
        "bins": ("bins.csv", (small / "bins.csv").read_bytes()),
        "network": ("network.osm.pbf", (small / "network.osm.pbf").read_bytes()),
    }
    parts[field] = (filename, data)
    return multipart_body({"name": name}, parts)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_hostile_file_is_refused_naming_file_and_problem(app, small, files, case):
    """A 422 whose message names the file and says what is wrong; nothing is stored."""
    field, filename, data = files[case]
    body, ctype = _upload(small, case, field, filename, data)
    client = app.test_client()
    before = client.get("/api/v1/scenarios", headers=hdr(app, "viewer")).json["total"]
    resp = client.post("/api/v1/scenarios", data=body, content_type=ctype, headers=hdr(app))
    assert resp.status_code == 422, (resp.status_code, resp.json)
    message = resp.json["error"]["message"]
    named = {"network": "network file", "bins": "bins.csv", "fleet": "fleet.json"}[field]
    assert message.startswith(named) and EXPECTED[case] in message, message
    assert len(message) < 1000  # a huge bad value is not echoed back
    assert client.get("/api/v1/scenarios", headers=hdr(app, "viewer")).json["total"] == before


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"readings": [{"bin_id": "B0001", "timestamp": "2026-11-23T05:00Z", "fill_pct": NaN}]}',
    ],
    ids=["deep", "nan"],
)
def test_a_hostile_json_body_is_a_4xx(app, small, body):
    """Deeply nested JSON and NaN in a JSON body: 400 or 422, never a 500."""
    client = app.test_client()
    up, ctype = _upload(small, f"json-{len(body)}", "bins", "bins.csv", (small / "bins.csv").read_bytes())
    sid = client.post("/api/v1/scenarios", data=up, content_type=ctype, headers=hdr(app)).json["id"]
    for url in (f"/api/v1/scenarios/{sid}/readings", f"/api/v1/scenarios/{sid}/collections", "/api/v1/scenarios"):
        resp = client.post(url, data=body, content_type="application/json", headers=hdr(app))
        assert resp.status_code in (400, 422), (url, resp.status_code, resp.get_data()[:300])


@pytest.mark.service
@pytest.mark.slow
def test_a_real_server_refuses_the_whole_corpus_and_stays_small(small, files, tmp_path):
    """`binroute serve` answers every hostile file with a 4xx, still answers after, and peaks under 2 GB of memory."""
    import re
    from pathlib import Path

    from binroute.api.service import create_app

    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    setup = create_app({"DATABASE_URL": db, "DATA_DIR": str(tmp_path / "d"), "RESUME_JOBS": False})
    with setup.extensions["binroute"]["sessions"]() as s:
        key = create_key(s, "p", "planner", create_org(s, "hostile").id)[1]
    setup.extensions["binroute"]["jobs"].shutdown()
    with served(db, cwd=tmp_path, options=("--rate-limit", "off")) as base:
        for case, (field, filename, data) in files.items():
            body, ctype = _upload(small, case, field, filename, data)
            status, answer = call(f"{base}/api/v1/scenarios", key, body, ctype)
            assert 400 <= status < 500, (case, status, answer[:300])
        status, _ = call(f"{base}/api/v1/scenarios", key)
        assert status == 200
        peaks = []  # the server's own peak resident memory, from /proc
        for status_file in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                cmd = status_file.read_bytes()
            except OSError:
                continue
            if b"serve" in cmd and base.rsplit(":", 1)[1].encode() in cmd:
                text = (status_file.parent / "status").read_text()
                peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) * 1024)
        assert peaks and max(peaks) < 2 << 30, peaks
