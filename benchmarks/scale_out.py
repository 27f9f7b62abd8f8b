"""Plans on the task queue: a real Redis, a real API server and N ``binroute worker`` processes on this machine.

    python -m benchmarks.scale_out [--plans 6] [--workers 1,2] [--time-limit 5] [--database URL]

For each N in ``--workers``, and once more with two workers of which one is
killed (``kill -9`` of its process group, as a lost machine) while both are
searching (every running plan at the ``solve`` stage): starts
``redis-server`` on a free 127.0.0.1 port, ``binroute serve --broker`` and N
``binroute worker --concurrency 1``, uploads the sample
(``sample_data/helsinki``) once per organisation (the server lets an
organisation have 4 plans queued or running), queues ``--plans`` plans at
once through the HTTP API, and while they run reads ``GET /plans/{id}`` from
four threads. Reports plans per minute (first plan created to last finished),
queue wait (created → started) p50/p95, time solving, the read latency
p50/p95, the progress stages the reads saw, and whether every plan finished,
to ``benchmarks/results/scale_out.{csv,json,md}``.

The database is a fresh SQLite file per run unless ``--database`` gives a URL
with ``{run}`` in it, e.g. ``postgresql+psycopg://u@h/bench_{run}``: run 1, 2, ...
then each use their own empty database, made beforehand. The server's rate
limit is off (the readers alone pass it). Workers redeliver a killed worker's
plan after ``--visibility-timeout`` seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from binroute.api.service.client import call, redis_server, scenario_upload, served, worker_process

from .common import RESULTS, ROOT, table, write_results

SAMPLE = ROOT / "sample_data" / "helsinki"
#: Plans an organisation may have queued or running at once (``ORG_MAX_SOLVES``, the server's default).
PLANS_PER_ORG = 4
#: Threads reading plans' status while they run.
READERS = 4
#: Seconds an upload of the sample (160,000 readings) may take on a busy machine.
UPLOAD_TIMEOUT_S = 600.0
COLUMNS = [
    "run",
    "workers",
    "plans",
    "done",
    "plans_per_min",
    "wait_p50_s",
    "wait_p95_s",
    "solve_p50_s",
    "read_p50_ms",
    "read_p95_ms",
    "reads",
    "read_errors",
]


def _call(
    url: str, key: str, data: bytes | None = None, ctype: str = "application/json", *, timeout_s: float = 60.0
) -> tuple[int, Any]:
    """A request's status and its JSON body."""
    code, body = call(url, key, data, ctype, timeout_s=timeout_s)
    return code, json.loads(body or b"null")


def _cli(*args: str, cwd: Path) -> str:
    """Run a ``binroute`` admin command; its standard output."""
    return subprocess.run(
        [sys.executable, "-m", "binroute.api.cli", *args], capture_output=True, text=True, check=True, cwd=cwd
    ).stdout


def _time(text: str) -> float:
    return datetime.fromisoformat(text.removesuffix("Z")).timestamp()


def _pct(values: list[float], q: float, scale: float = 1.0) -> float:
    return round(float(np.percentile(values, q)) * scale, 2) if values else float("nan")


def _queue_plans(base: str, root: Path, database: str, plans: int, body: dict[str, Any]) -> list[tuple[str, str]]:
    """Organisations with a key and the sample each, then ``plans`` plans queued at once; (plan URL, key) each."""
    upload, ctype = scenario_upload("sample", SAMPLE)
    targets = []
    for i in range(math.ceil(plans / PLANS_PER_ORG)):
        org = _cli("orgs", "create", f"council {i}", "--database", database, cwd=root).split()[0]
        key = _cli(
            "keys", "create", "--org", org, "--name", "bench", "--role", "planner", "--database", database, cwd=root
        )
        key = key.split()[2]
        code, scenario = _call(f"{base}/api/v1/scenarios", key, upload, ctype, timeout_s=UPLOAD_TIMEOUT_S)
        assert code == 201, scenario
        targets += [(f"{base}/api/v1/scenarios/{scenario['id']}/plans", key)] * PLANS_PER_ORG
    queued: list[tuple[str, str]] = []

    def post(target: tuple[str, str]) -> None:
        code, plan = _call(target[0], target[1], json.dumps(body).encode())
        assert code == 202, plan
        queued.append((base + plan["links"]["self"], target[1]))

    threads = [threading.Thread(target=post, args=(t,)) for t in targets[:plans]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return queued


class Readers:
    """Threads reading the plans round-robin until every one is done or failed; latencies and what they saw."""

    def __init__(self, plans: list[tuple[str, str]]) -> None:
        self.plans, self.errors = plans, 0
        self.latencies: list[float] = []
        self.latest: dict[str, dict[str, Any]] = {}
        self.stages: set[str] = set()
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._read, args=(i,)) for i in range(READERS)]

    def _read(self, first: int) -> None:
        i = first
        while not self.stop.is_set():
            url, key = self.plans[i % len(self.plans)]
            began = time.perf_counter()
            code, plan = _call(url, key)
            with self.lock:
                self.latencies.append(time.perf_counter() - began)
                if code != 200:
                    self.errors += 1
                    continue
                self.latest[url] = plan
                if plan.get("progress"):
                    self.stages.add(plan["progress"]["stage"])
            i += 1
            time.sleep(0.05)

    def running_stages(self) -> list[str]:
        """The progress stage of each plan last seen running."""
        with self.lock:
            return [p["progress"]["stage"] for p in self.latest.values() if p["status"] == "running" and p["progress"]]

    def finished(self) -> bool:
        with self.lock:
            return len(self.latest) == len(self.plans) and all(
                p["status"] in ("done", "failed") for p in self.latest.values()
            )

    def __enter__(self) -> Readers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def run(name: str, number: int, workers: int, args: argparse.Namespace, *, kill: bool = False) -> dict[str, Any]:
    """Run ``number``: a broker, a server and ``workers`` workers; ``kill``: kill -9 the first once all solve."""
    body = {"date": "2026-11-23", "time_limit_s": args.time_limit, "engine": args.engine}
    worker_options = ("--concurrency", "1", "--visibility-timeout", str(args.visibility_timeout))
    with tempfile.TemporaryDirectory(prefix="binroute-scale-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        database = args.database.format(run=number) if args.database else ""
        database = database or f"sqlite:///{root / 'bench.sqlite3'}"
        broker = stack.enter_context(redis_server())
        if broker is None:
            raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
        serve_options = ("--broker", broker, "--workers", "8", "--rate-limit", "off")
        base = stack.enter_context(served(database, cwd=root, options=serve_options))
        procs = [
            stack.enter_context(worker_process(broker, database, root / f"worker{i}", *worker_options))
            for i in range(workers)
        ]
        plans = _queue_plans(base, root, database, args.plans, body)
        load_before, killed_at = os.getloadavg()[0], None
        with Readers(plans) as readers:
            end = time.monotonic() + args.timeout
            while not readers.finished() and time.monotonic() < end:
                stages = readers.running_stages()
                if kill and killed_at is None and len(stages) >= workers and set(stages) == {"solve"}:
                    os.killpg(procs[0].pid, signal.SIGKILL)  # every worker is mid-search, so this one is too
                    procs[0].wait()
                    killed_at = time.time()
                time.sleep(0.2)
            answers = [_call(url, key) for url, key in plans]
    assert all(code == 200 for code, _ in answers), answers
    final = [plan for _, plan in answers]
    created = [_time(p["created"]) for p in final]
    done = [p for p in final if p["status"] == "done"]
    waits = [_time(p["started"]) - _time(p["created"]) for p in final if p["started"]]
    solves = [_time(p["finished"]) - _time(p["started"]) for p in done]
    wall = max(_time(p["finished"]) for p in done) - min(created) if done else float("nan")
    return {
        "run": name,
        "workers": workers,
        "plans": len(final),
        "done": len(done),
        "failed": [p["error"] for p in final if p["status"] == "failed"],
        "unfinished": sum(1 for p in final if p["status"] in ("queued", "running")),
        "wall_s": round(wall, 1),
        "plans_per_min": round(60 * len(done) / wall, 2) if done else 0.0,
        "wait_p50_s": _pct(waits, 50),
        "wait_p95_s": _pct(waits, 95),
        "solve_p50_s": _pct(solves, 50),
        "read_p50_ms": _pct(readers.latencies, 50, 1000),
        "read_p95_ms": _pct(readers.latencies, 95, 1000),
        "reads": len(readers.latencies),
        "read_errors": readers.errors,
        "stages_seen": sorted(readers.stages),
        "killed_s_after_first_plan": round(killed_at - min(created), 1) if killed_at else None,
        "load_avg_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=6, help="plans queued at once per run")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--time-limit", type=float, default=5.0, help="each plan's time limit, seconds")
    parser.add_argument("--engine", default="ortools", help="each plan's engine (ortools: one core per solve)")
    parser.add_argument("--visibility-timeout", type=float, default=60.0, help="seconds before a lost task returns")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a run may take before it is cut off")
    parser.add_argument("--database", default=None, help="a database URL per run (with {run}); default SQLite")
    parser.add_argument("--no-kill", action="store_true", help="skip the run that kills a worker")
    args = parser.parse_args(argv)
    runs = [(f"{n} worker(s)", n, False) for n in (int(x) for x in args.workers.split(","))]
    if not args.no_kill:
        runs.append(("2 workers, one killed", 2, True))
    rows = []
    for number, (name, n, kill) in enumerate(runs, start=1):
        rows.append(run(name, number, n, args, kill=kill))
        print(json.dumps(rows[-1]), flush=True)
    meta = {
        "plans": args.plans,
        "time_limit_s": args.time_limit,
        "engine": args.engine,
        "visibility_timeout_s": args.visibility_timeout,
        "database": "sqlite" if not args.database else args.database.split(":")[0],
        "cpus": os.cpu_count(),
    }
    write_results("scale_out", rows, meta)
    text = table(rows, COLUMNS) + f"\n\n{meta}"
    (RESULTS / "scale_out.md").write_text(text + "\n")
    print(text)
    ok = all(r["done"] == r["plans"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
