"""A day replayed through the real API: crews record every lift, disturbances come, the rest of the day is re-planned.

    python -m benchmarks.live_day [--plan-s 30] [--replan-s S] [--seed 0] [--city STOPS]

Starts ``binroute serve`` on a free loopback port with a throw-away database,
uploads the sample scenario and plans its 2026-11-23 with the default 30-s
budget. Then the crews drive their routes at the planned speed with delays (a
random walk of a few tens of seconds a stop, seeded), recording each lift
(``done`` with the fill seen, a few ``not_out``) through ``POST /events``; at
each disturbance the events so far are sent and the rest of the day is
re-planned (``POST /replan``), the crews going on with the new version:

- when half of the day's stops are due: a re-plan with nothing but the lifts
  (how many stops keep their crew);
- 11:00: the crew with most stops left breaks down;
- 11:30: 15 bins emptied this morning are reported missed;
- 12:00: 10 bins the plan left out are reported overflowing.

Each re-plan's wall time (round trip) and the server's own time, the choice
(kept or moved), the share of remaining stops that kept their crew, stops moved,
required bins left and the independent checker's verdict go to
``benchmarks/results/live_day.{csv,json,md}``, with the events sent and the
collection-log rows they made. Only 127.0.0.1 is contacted.

``--city 2000`` replays a big day instead: 2,000 full bins on a generated
street grid (:mod:`benchmarks.gen_city`, the scenario of :mod:`benchmarks.big_day`:
one lorry per 130 bins), planned on 2026-10-05 with ``--plan-s``; results in
``live_day_city2000.*``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from binroute.api.service.client import call, scenario_upload, served

from .common import RESULTS, ROOT, table, write_results

SAMPLE = ROOT / "sample_data" / "helsinki"
DATE = "2026-11-23"
#: Helsinki's offset on the day (and Rome's on the generated city's day).
OFFSET = "+02:00"
#: Requests that plan or re-plan a big day on a busy machine take minutes.
SLOW_S = 900.0
FILLS = ["empty", "quarter", "half", "three_quarters", "full", "overflowing"]
FILL_WEIGHTS = [0.02, 0.08, 0.2, 0.35, 0.3, 0.05]


def _at(hhmm: str, day: str = DATE) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00{OFFSET}")


class Day:
    """The replayed day: the service, the plan's current version, each crew's delay, what was sent."""

    def __init__(self, base: str, key: str, plan_id: str, seed: int) -> None:
        self.base, self.key, self.plan_id = base, key, plan_id
        self.rng = np.random.default_rng(seed)
        self.delay: dict[str, float] = {}
        self.sent: set[str] = set()  # bins with an outcome sent
        self.emptied: list[tuple[datetime, str]] = []
        self.events = 0
        self.replan_solutions: int | None = None

    def get(self, path: str) -> dict[str, Any]:
        status, body = call(f"{self.base}/api/v1{path}", self.key)
        assert status == 200, body
        answer: dict[str, Any] = json.loads(body)
        return answer

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, body = call(f"{self.base}/api/v1{path}", self.key, json.dumps(payload).encode(), timeout_s=SLOW_S)
        return status, json.loads(body)

    def drive_until(self, until: datetime) -> int:
        """Every crew's lifts due by ``until`` (planned time plus its delay), sent as one batch per crew."""
        day = self.get(f"/plans/{self.plan_id}/day")
        sent = 0
        for crew in day["crews"]:
            if crew["broken_down"]:
                continue
            vid = crew["vehicle_id"]
            batch = []
            for stop in crew["stops"]:
                if stop["status"] != "left" or stop["bin_id"] in self.sent:
                    continue
                self.delay[vid] = max(self.delay.get(vid, 0.0) + float(self.rng.normal(20.0, 40.0)), -60.0)
                when = datetime.fromisoformat(stop["eta"]) + timedelta(seconds=self.delay[vid])
                if when > until:
                    break
                event: dict[str, Any] = {"event_id": uuid.uuid4().hex, "vehicle_id": vid, "at": when.isoformat()}
                if self.rng.random() < 0.02:
                    event |= {"kind": "not_out", "bin_id": stop["bin_id"]}
                else:
                    fill = str(self.rng.choice(FILLS, p=FILL_WEIGHTS))
                    event |= {"kind": "done", "bin_id": stop["bin_id"], "fill": fill}
                    self.emptied.append((when, stop["bin_id"]))
                self.sent.add(stop["bin_id"])
                batch.append(event)
            for k in range(0, len(batch), 1000):  # the API takes 1,000 events a request
                part = batch[k : k + 1000]
                status, answer = self.post(f"/plans/{self.plan_id}/events", {"events": part})
                assert status == 201 and answer["inserted"] == len(part), answer
                sent += len(part)
        self.events += sent
        return sent

    def report(self, events: list[dict[str, Any]]) -> None:
        status, answer = self.post(f"/plans/{self.plan_id}/events", {"events": events})
        assert status == 201, answer
        self.events += len(events)

    def replan(self, at: datetime, label: str, replan_s: float | None, seed: int) -> dict[str, Any]:
        """Re-plan as of ``at``; the row of the results table."""
        body: dict[str, Any] = {"at": at.isoformat(), "time_limit_s": replan_s, "seed": seed}
        if self.replan_solutions:  # deterministic: a solution limit and no time limit
            body |= {"time_limit_s": None, "solution_limit": self.replan_solutions}
        began = time.perf_counter()
        status, out = self.post(f"/plans/{self.plan_id}/replan", body)
        wall = time.perf_counter() - began
        assert status == 201, out
        self.plan_id = out["plan"]["id"]
        moved = sum(c["moved_in"] for c in out["changes"])
        moves = {c["vehicle_id"]: c["moved_out"] for c in out["changes"] if c["moved_out"]}
        _, raw = call(f"{self.base}/api/v1/plans/{self.plan_id}/routes.geojson", self.key)
        left = set(out["unserved_required"])
        reasons = Counter(
            f["properties"]["reason"]
            for f in json.loads(raw)["features"]
            if f["properties"].get("kind") == "skipped" and f["properties"].get("bin_id") in left
        )
        return {
            "disturbance": label,
            "at": at.strftime("%H:%M"),
            "version": out["version"],
            "wall_s": round(wall, 2),
            "server_s": out["seconds"],
            "choice": out["choice"],
            "kept_share": out["kept_share"],
            "kept_cost": out["kept_cost"],
            "moved_cost": out["moved_cost"],
            "moved": moved,
            "moved_out_per_crew": " ".join(f"{v}:{n}" for v, n in moves.items()),
            "move_cost": out.get("move_cost"),
            "stops_left": sum(c["stops"] for c in out["changes"]),
            "required_left": len(out["unserved_required"]),
            "feasible": out["feasible"],
            "stages_s": " ".join(
                f"{k}:{v}" for k, v in (out["plan"].get("summary") or {}).get("timings_s", {}).items()
            ),
            "why_left": "; ".join(f"{n} {why}" for why, n in reasons.most_common()),
            "fleet_short": out.get("fleet_short") or "",
        }


def _city(folder: Path, stops: int) -> tuple[bytes, str, str]:
    """A big day's scenario on a generated street grid: its upload, content type and date."""
    from binroute.api.service.client import multipart_body

    from .big_day import DAY, _scenario
    from .gen_city import write_city

    size = max(20, int((stops * 0.8) ** 0.5) + 1)  # enough street segments for a bin each
    network = write_city(folder / "city.osm", size)
    _scenario(folder, network, stops)
    files = {name: (name, (folder / name).read_bytes()) for name in ("fleet.json", "bins.csv", "readings.csv")}
    parts = {"fleet": files["fleet.json"], "bins": files["bins.csv"], "readings": files["readings.csv"]}
    upload, ctype = multipart_body({"name": f"city {stops}"}, {**parts, "network": ("city.osm", network.read_bytes())})
    return upload, ctype, DAY.isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan-s", type=float, default=30.0, help="the morning plan's budget")
    parser.add_argument(
        "--replan-s", type=float, default=None, help="each of a re-plan's solves (default: the service's, scaled)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--city", type=int, metavar="STOPS", help="a big day of STOPS bins on a generated city")
    parser.add_argument("--plan-solutions", type=int, help="plan the morning to a solution limit, no time limit")
    parser.add_argument("--replan-solutions", type=int, help="each re-plan solve to a solution limit, no time limit")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    name = f"live_day_city{args.city}" if args.city else "live_day"
    with tempfile.TemporaryDirectory(prefix="binroute-live-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'live.sqlite3'}"
        cli = [sys.executable, "-m", "binroute.api.cli", "keys", "create", "--name", "live", "--role", "planner"]
        key = subprocess.run(
            [*cli, "--database", db], capture_output=True, text=True, check=True, cwd=tmp
        ).stdout.split()[2]
        if args.city:
            upload, ctype, date = _city(Path(tmp), args.city)
        else:
            (upload, ctype), date = scenario_upload("sample", SAMPLE), DATE
        with served(db, cwd=tmp, options=("--rate-limit", "off")) as base:
            _, body = call(f"{base}/api/v1/scenarios", key, upload, ctype, timeout_s=SLOW_S)
            sid = json.loads(body)["id"]
            plan = {"date": date, "time_limit_s": args.plan_s, "engine": "ortools", "seed": args.seed}
            if args.plan_solutions:
                plan |= {"time_limit_s": None, "solution_limit": args.plan_solutions}
            if args.city:  # the big day plans with the default engine (districts above 1,000 stops)
                plan.pop("engine")
            began = time.perf_counter()
            _, body = call(f"{base}/api/v1/scenarios/{sid}/plans", key, json.dumps(plan).encode(), timeout_s=SLOW_S)
            url = base + json.loads(body)["links"]["self"]
            while json.loads(call(url, key, timeout_s=SLOW_S)[1])["status"] not in ("done", "failed"):
                time.sleep(1.0)
            morning_s = time.perf_counter() - began
            morning = json.loads(call(url, key)[1])
            if morning["status"] != "done":
                raise SystemExit(f"the morning plan failed: {morning.get('error')}")
            root = morning["id"]
            day = Day(base, key, root, args.seed)
            day.replan_solutions = args.replan_solutions
            since = f"{date}T00:00:00Z"
            logged_before = day.get(f"/scenarios/{sid}/collections?from={since}&limit=1")["total"]
            first = day.get(f"/plans/{root}/day")
            etas = sorted(datetime.fromisoformat(s["eta"]) for c in first["crews"] for s in c["stops"])
            half = etas[len(etas) // 2]
            planned_stops = len(etas)

            day.drive_until(half)
            rows.append(day.replan(half, "half the stops due", args.replan_s, args.seed))

            eleven = _at("11:00", date)
            day.drive_until(eleven)
            state = day.get(f"/plans/{day.plan_id}/day")
            broken = max(state["crews"], key=lambda c: c["stops_left"])["vehicle_id"]
            breakdown = {"event_id": uuid.uuid4().hex, "kind": "breakdown", "vehicle_id": broken}
            day.report([breakdown | {"at": eleven.isoformat()}])
            rows.append(day.replan(eleven, f"{broken} breaks down", args.replan_s, args.seed))

            day.drive_until(_at("11:30", date))
            earlier = [b for when, b in sorted(day.emptied) if when < eleven]
            missed = [str(b) for b in day.rng.choice(earlier, size=min(15, len(earlier)), replace=False)]
            at = _at("11:30", date).isoformat()
            if missed:
                day.report([{"event_id": uuid.uuid4().hex, "kind": "missed", "bin_id": b, "at": at} for b in missed])
                rows.append(day.replan(_at("11:30", date), f"{len(missed)} bins missed", args.replan_s, args.seed))

            day.drive_until(_at("12:00", date))
            planned = {s["bin_id"] for c in first["crews"] for s in c["stops"]}
            bins = day.get(f"/scenarios/{sid}/bins?limit=500")["items"]
            left_out = [b for b in bins if b["bin_id"] not in planned][:10]
            at = _at("12:00", date).isoformat()
            if left_out:
                overflow = {"kind": "overflow", "at": at, "fill": "overflowing"}
                day.report([{"event_id": uuid.uuid4().hex, "bin_id": b["bin_id"], **overflow} for b in left_out])
                label = f"{len(left_out)} overflow reports"
                rows.append(day.replan(_at("12:00", date), label, args.replan_s, args.seed))

            day.drive_until(_at("23:59", date))
            logged = day.get(f"/scenarios/{sid}/collections?from={since}&limit=1")["total"]
    meta = {
        "date": date,
        "planned_stops": planned_stops,
        "morning_plan_s": round(morning_s, 1),
        "plan_budget_s": args.plan_s,
        "replan_solve_s": args.replan_s,
        "plan_solutions": args.plan_solutions,
        "replan_solutions": args.replan_solutions,
        "events_sent": day.events,
        "collection_rows_added": logged - logged_before,
        "seed": args.seed,
    }
    write_results(name, rows, meta)
    columns = ["disturbance", "at", "version", "wall_s", "server_s", "choice", "kept_share", "kept_cost", "moved_cost"]
    columns += ["moved", "moved_out_per_crew", "stops_left", "required_left", "feasible", "why_left", "fleet_short"]
    text = table(rows, columns) + f"\n\n{meta}"
    (RESULTS / f"{name}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
