"""The crew page in headless Chromium: stops marked online, offline and while the server is down arrive once each."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from binroute.api.service.db import CollectionRow, EventRow

from ..pipeline.browser import BROWSER
from .cdp import Browser
from .helpers import LoopbackServer, crew_token, done_plan, first_routes, live_clock, make_app, upload

pytestmark = [
    pytest.mark.service,
    pytest.mark.skipif(BROWSER is None, reason="needs chromium (Debian's chromium package) for the crew page"),
]

#: How the page marks the next stop: emptied with a fill seen, or an exception.
EMPTY_NEXT = (
    "document.querySelector('.stop.next button.emptied').click();"
    "document.querySelector('.stop.next button[data-fill=\"{fill}\"]').click();"
)
EXCEPTION_NEXT = "document.querySelector('.stop.next button[data-kind=\"{kind}\"]').click();"
WAITING = "Number(document.getElementById('net').dataset.waiting)"


def _counts(app, plan_id: str, scenario_id: str) -> tuple[int, int, int]:
    """Events stored for the plan, distinct event ids among them, and collection-log rows of the scenario."""
    with app.extensions["binroute"]["sessions"]() as s:
        events = s.scalar(select(func.count()).select_from(EventRow).where(EventRow.plan_id == plan_id))
        distinct = s.scalar(select(func.count(func.distinct(EventRow.event_id))).where(EventRow.plan_id == plan_id))
        log = s.scalar(select(func.count()).select_from(CollectionRow).where(CollectionRow.scenario_id == scenario_id))
    return events, distinct, log


def test_crew_page_offline_and_restart_lose_and_double_nothing(small, tmp_path):
    """Mark stops, go offline, mark more, kill the server, come back: each event arrives once; the live map shows it."""
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    app.config["LIVE_CLOCK"] = live_clock("08:00")
    browser = None
    server = LoopbackServer(app)
    try:
        client = app.test_client()
        scenario = upload(client, app, small, "crew town").json
        plan = done_plan(client, app, scenario["id"])
        crew, stops = max(first_routes(client, app, plan["id"]).items(), key=lambda kv: len(kv[1]))
        assert len(stops) >= 6
        token = crew_token(client, app, plan["id"], crew)
        _, _, log_before = _counts(app, plan["id"], scenario["id"])
        server.start()
        browser = Browser(BROWSER, tmp_path / "profile")
        browser.call("Page.navigate", url=f"http://127.0.0.1:{server.port}{token['link']}")
        browser.wait_for("document.body.dataset.ready === '1' && document.querySelectorAll('.stop').length > 0")
        assert browser.js("document.querySelector('.stop.next').dataset.bin") == stops[0]
        browser.wait_for("navigator.serviceWorker.ready.then((r) => r.active !== null)")  # the page is kept
        browser.wait_for("streets !== null && streets[1].getLayers().length > 0")  # the route along the streets

        for fill in ("half", "full"):  # online
            browser.js(EMPTY_NEXT.format(fill=fill))
        browser.wait_for(f"{WAITING} === 0")
        assert _counts(app, plan["id"], scenario["id"])[0] == 2

        browser.offline(True)
        browser.js(EMPTY_NEXT.format(fill="quarter"))
        browser.js(EXCEPTION_NEXT.format(kind="not_out"))
        assert browser.wait_for(f"{WAITING} === 2 && {WAITING}")
        assert _counts(app, plan["id"], scenario["id"])[0] == 2

        server.stop()  # the server dies while the phone is offline
        browser.call("Page.reload")  # and the page opens again from the phone, without signal or server
        browser.wait_for("document.body.dataset.ready === '1' && document.querySelectorAll('.stop').length > 0")
        assert browser.js(WAITING) == 2
        assert browser.js("document.querySelector('.stop.next').dataset.bin") == stops[4]
        browser.offline(False)
        browser.js(EMPTY_NEXT.format(fill="overflowing"))
        browser.js("flush()")
        assert browser.wait_for(f"{WAITING} === 3 && {WAITING}")
        sent_ids = browser.js("JSON.stringify(queue().map((e) => e.event_id))")

        server.start()
        browser.wait_for(f"{WAITING} === 0", timeout_s=30)
        # An answer lost on the way back: the phone sends the same events again; they count once.
        resend = "{event_id: id, kind: 'position', at: new Date().toISOString(), lon: 24.94, lat: 60.17}"
        browser.js(f"saveQueue({sent_ids}.map((id) => ({resend})))")
        browser.js("flush()")
        browser.wait_for(f"{WAITING} === 0")

        events, distinct, log_after = _counts(app, plan["id"], scenario["id"])
        assert events == distinct == 5
        assert log_after - log_before == 4  # four emptied, one not out
        browser.call("Page.reload")
        browser.wait_for("document.body.dataset.ready === '1'")
        assert browser.js("document.querySelector('.stop.next').dataset.bin") == stops[5]
        statuses = {
            s["bin_id"]: s["status"]
            for s in client.get(f"/api/v1/plans/{plan['id']}/day", headers={"X-Crew-Token": token["token"]}).json[
                "crews"
            ][0]["stops"]
        }
        assert [statuses[b] for b in stops[:6]] == ["done", "done", "done", "not_out", "done", "left"]

        # The supervisor's live map shows the same day: the crew's five stops done, its exception listed.
        live = f"http://127.0.0.1:{server.port}/api/v1/plans/{plan['id']}/live#{app.config['TEST_KEYS']['viewer']}"
        browser.call("Page.navigate", url=live)
        row = f"document.querySelector('#crews tr[data-crew=\"{crew}\"]')"
        cells = browser.wait_for(f"{row} && [...{row}.children].map((td) => td.textContent)")
        assert cells[1:3] == ["5", str(len(stops) - 5)]
        assert browser.js("document.getElementById('events').textContent").count("not_out") == 1
        browser.wait_for("streets !== null && streets[1].getLayers().length > 0")
    finally:
        if browser is not None:
            browser.close()
        server.stop()
        app.extensions["binroute"]["jobs"].shutdown()
