"""A soak: many councils on PostgreSQL, Redis, two ``serve`` replicas and two workers, with faults on a schedule.

    python -m benchmarks.soak [--minutes 10] [--orgs 50] [--threads 8] [--fault-every 60] [--no-faults]

Starts on this machine (127.0.0.1 only) a PostgreSQL cluster, a Redis, two
``binroute serve --broker`` replicas (rate limits shared in Redis) and two
``binroute worker``; creates ``--orgs`` organisations, each with a key and a
30-bin scenario cut from the sample. For ``--minutes``, ``--threads`` threads
act as councils picked at random: upload readings (new rows, counted when
acknowledged) and collection logs, read scenarios, readings and forecasts,
queue plans (2-s searches; an organisation's 5th at once is a 429) and read
them. Every ``--fault-every`` seconds one fault from the list, in turn:
``kill -9`` of a worker (started again), PostgreSQL restarted, Redis
restarted (queued tasks lost: the sweeper and the servers hand their plans
out again), ``kill -9`` of a ``serve`` replica (started again on its port).
Then it waits (bounded) for every plan to end and reports requests per second,
p50/p95/p99 latency per route, answers by status, plans done and failed (and
stuck: queued or running at the end), plan wait and solve times, and readings
acknowledged against readings found, to ``benchmarks/results/soak.{csv,json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from binroute.api.service.client import (
    call,
    free_port,
    postgres_server,
    restart_postgres,
    scenario_upload,
    small_scenario,
    wait_until_up,
    worker_process,
)

from .common import ROOT, table, write_results

SAMPLE = ROOT / "sample_data" / "helsinki"
PLAN = {"date": "2026-11-23", "time_limit_s": 2, "engine": "ortools"}
FAULTS = ("worker", "postgresql", "redis", "serve")


class Redis:
    """A redis-server on a fixed port that can be restarted (without persistence: queued tasks are lost)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


class Server:
    """``binroute serve`` on a fixed port that can be killed with SIGKILL and started again."""

    def __init__(self, database: str, broker: str, root: Path, options: tuple[str, ...] = ()) -> None:
        self.port, self.database, self.broker, self.root = free_port(), database, broker, root
        self.options = options
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.root / f"serve-{self.port}.log").open("ab")
        cmd = [sys.executable, "-m", "binroute.api.cli", "serve", "--port", str(self.port), "--workers", "8"]
        cmd += ["--database", self.database, "--broker", self.broker, "--rate-limit", "6000/minute", *self.options]
        self.proc = subprocess.Popen([*cmd, "--log-format", "json"], cwd=self.root, stdout=log, stderr=log)
        wait_until_up(self.base, timeout_s=120)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class Load:
    """Councils at work: requests from threads, each timed and counted by route and status."""

    def __init__(self, servers: list[Server], orgs: list[dict[str, Any]], seed: int) -> None:
        self.servers, self.orgs = servers, orgs
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.codes: Counter[str] = Counter()
        self.written: Counter[str] = Counter()  # readings acknowledged, by scenario
        self.plans: list[tuple[str, str]] = []
        self.stop = threading.Event()
        self.clock = 0

    def request(self, route: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        base = self.rng.choice(self.servers).base
        data = json.dumps(body).encode() if body is not None else None
        began = time.perf_counter()
        try:
            code, raw = call(base + path, key, data, timeout_s=60)
        except OSError:  # a replica killed mid-request: the client sees a dropped connection
            code, raw = 0, b""
        took = time.perf_counter() - began
        with self.lock:
            self.latencies[route].append(took)
            self.codes[str(code)] += 1
        try:
            return code, json.loads(raw) if raw else None
        except ValueError:
            return code, None

    def act(self) -> None:
        org = self.rng.choice(self.orgs)
        sid, key, bins = org["scenario"], org["key"], org["bins"]
        pick = self.rng.random()
        if pick < 0.25:
            with self.lock:
                self.clock += 1
                tick = self.clock
            at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=tick)
            rows = [{"bin_id": b, "timestamp": at.isoformat(), "fill_pct": 50.0} for b in bins[:5]]
            code, out = self.request("POST readings", f"/api/v1/scenarios/{sid}/readings", key, {"readings": rows})
            if code in (200, 201) and out:
                with self.lock:
                    self.written[sid] += out["inserted"]
        elif pick < 0.30:
            at = (datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=self.rng.randrange(100_000))).isoformat()
            row = {"bin_id": self.rng.choice(bins), "collected_at": at, "fill_pct": 80}
            self.request("POST collections", f"/api/v1/scenarios/{sid}/collections", key, {"collections": [row]})
        elif pick < 0.33:
            code, out = self.request("POST plans", f"/api/v1/scenarios/{sid}/plans", key, PLAN)
            if code == 202 and out:
                with self.lock:
                    self.plans.append((out["id"], key))
        elif pick < 0.45:
            self.request("GET forecast", f"/api/v1/scenarios/{sid}/forecast?at=2026-11-23T10:00", key)
        elif pick < 0.65:
            self.request("GET scenario", f"/api/v1/scenarios/{sid}", key)
        elif pick < 0.80:
            self.request("GET readings", f"/api/v1/scenarios/{sid}/readings?limit=50", key)
        else:
            with self.lock:
                mine = [p for p in self.plans if p[1] == key] or self.plans
                plan = self.rng.choice(mine) if mine else None
            if plan:
                self.request("GET plan", f"/api/v1/plans/{plan[0]}", plan[1])

    def run(self) -> None:
        while not self.stop.is_set():
            self.act()


def _setup_orgs(database: str, base: str, count: int, folder: Path) -> list[dict[str, Any]]:
    """``count`` organisations, each with a planner key and the small scenario uploaded."""
    from binroute.api.service import create_app
    from binroute.api.service.db import create_key, create_org

    admin = create_app({"DATABASE_URL": database, "RESUME_JOBS": False})
    keys = []
    with admin.extensions["binroute"]["sessions"]() as s:
        for i in range(count):
            keys.append(create_key(s, "soak", "planner", create_org(s, f"council {i:03d}").id)[1])
    admin.extensions["binroute"]["jobs"].shutdown()
    upload, ctype = scenario_upload("soak", folder)
    bins = [line.split(",")[0] for line in (folder / "bins.csv").read_text().splitlines()[1:]]
    orgs = []
    for key in keys:
        code, raw = call(f"{base}/api/v1/scenarios", key, upload, ctype, timeout_s=300)
        assert code == 201, raw[:300]
        scenario = json.loads(raw)
        orgs.append({"key": key, "scenario": scenario["id"], "bins": bins, "readings": scenario["readings"]})
    return orgs


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else float("nan")


def _say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """One soak run; its figures."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped from outside: still stop what it started
    with tempfile.TemporaryDirectory(prefix="binroute-soak-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        pg_root = root / "pg"
        pg_root.mkdir()
        database = stack.enter_context(postgres_server(pg_root))
        if database is None:
            raise SystemExit("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        redis = Redis()
        redis.start()
        stack.callback(redis.stop)
        options = ("--forecast-niceness", str(args.forecast_niceness), "--data-dir", str(root / "data"))
        servers = [Server(database, redis.url, root, options) for _ in range(2)]
        for server in servers:
            server.start()
            stack.callback(server.kill)
        workers = [
            stack.enter_context(worker_process(redis.url, database, root / f"worker{i}", "--concurrency", "1"))
            for i in range(2)
        ]
        _say(f"PostgreSQL, Redis, 2 servers and 2 workers up; {args.orgs} organisations")
        folder = small_scenario(SAMPLE, root / "small")
        began_setup = time.monotonic()
        orgs = _setup_orgs(database, servers[0].base, args.orgs, folder)
        setup_s = time.monotonic() - began_setup
        _say(f"set up in {setup_s:.0f} s; {args.threads} councils at work for {args.minutes:g} min")
        load = Load(servers, orgs, args.seed)
        threads = [threading.Thread(target=load.run, daemon=True) for _ in range(args.threads)]
        began = time.monotonic()
        for t in threads:
            t.start()
        faults: list[str] = []
        next_fault, turn = began + args.fault_every, 0
        while time.monotonic() < began + args.minutes * 60:
            time.sleep(0.5)
            if args.no_faults or time.monotonic() < next_fault:
                continue
            fault = FAULTS[turn % len(FAULTS)]
            turn += 1
            next_fault += args.fault_every
            faults.append(f"{round(time.monotonic() - began)}s {fault}")
            _say(f"fault: {fault}")
            if fault == "worker":
                os.killpg(workers[0].pid, signal.SIGKILL)
                workers[0].wait()
                workers[0] = stack.enter_context(
                    worker_process(redis.url, database, root / f"worker0-{turn}", "--concurrency", "1")
                )
            elif fault == "postgresql":
                restart_postgres(pg_root)
            elif fault == "redis":
                redis.stop()
                redis.start()
            else:
                servers[1].kill()
                servers[1].start()
        load.stop.set()
        for t in threads:
            t.join(timeout=120)
        _say(f"load stopped after {sum(len(v) for v in load.latencies.values())} requests; draining the plans")
        seconds = time.monotonic() - began
        # drain: every plan must end (done or failed), none stuck
        end = time.monotonic() + args.drain
        final: dict[str, dict[str, Any]] = {}
        while time.monotonic() < end:
            for plan_id, key in load.plans:
                if final.get(plan_id, {}).get("status") not in ("done", "failed"):
                    code, raw = call(f"{servers[0].base}/api/v1/plans/{plan_id}", key)
                    if code == 200:
                        final[plan_id] = json.loads(raw)
            if all(final.get(p, {}).get("status") in ("done", "failed") for p, _ in load.plans):
                break
            time.sleep(2)
        found = 0
        for org in orgs:
            code, raw = call(f"{servers[0].base}/api/v1/scenarios/{org['scenario']}", org["key"])
            found += json.loads(raw)["readings"] - org["readings"] if code == 200 else 0
    statuses = Counter(p.get("status", "unknown") for p in final.values())
    waits = [_seconds(p["started"]) - _seconds(p["created"]) for p in final.values() if p.get("started")]
    solves = [_seconds(p["finished"]) - _seconds(p["started"]) for p in final.values() if p.get("status") == "done"]
    routes = [
        {
            "route": route,
            "requests": len(times),
            "p50_ms": _pct(times, 50),
            "p95_ms": _pct(times, 95),
            "p99_ms": _pct(times, 99),
        }
        for route, times in sorted(load.latencies.items())
    ]
    total = sum(len(t) for t in load.latencies.values())
    return {
        "minutes": args.minutes,
        "orgs": args.orgs,
        "threads": args.threads,
        "setup_s": round(setup_s, 1),
        "seconds": round(seconds, 1),
        "requests": total,
        "requests_per_s": round(total / seconds, 1),
        "codes": dict(sorted(load.codes.items())),
        "plans": len(load.plans),
        "plans_done": statuses.get("done", 0),
        "plans_failed": statuses.get("failed", 0),
        "plans_stuck": sum(statuses.get(s, 0) for s in ("queued", "running", "unknown")),
        "failed_reasons": sorted({p.get("error") or "" for p in final.values() if p.get("status") == "failed"})[:5],
        "wait_p50_s": round(float(np.percentile(waits, 50)), 1) if waits else None,
        "wait_p95_s": round(float(np.percentile(waits, 95)), 1) if waits else None,
        "solve_p50_s": round(float(np.percentile(solves, 50)), 1) if solves else None,
        "readings_written": sum(load.written.values()),
        "readings_found": found,
        "faults": faults,
        "routes": routes,
    }


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the councils work")
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8, help="councils acting at once")
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between two faults")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the plans to end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--forecast-niceness", type=int, default=5, help="the replicas' `serve --forecast-niceness` (0 to 19)"
    )
    parser.add_argument("--name", default="soak", help="results file name under benchmarks/results")
    args = parser.parse_args(argv)
    result = soak(args)
    routes = result.pop("routes")
    write_results(args.name, routes, result)
    print(table(routes, ["route", "requests", "p50_ms", "p95_ms", "p99_ms"]))
    print(json.dumps(result, indent=1))
    lost = result["readings_written"] != result["readings_found"]
    bad = lost or result["plans_stuck"] or result["codes"].get("500", 0)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
