"""Load on a running API server: reads fired concurrently while a solve runs.

    python -m benchmarks.api_load [--requests 600] [--threads 8] [--solve-s 20]

Starts ``binroute serve`` on a free loopback port with a throw-away database,
uploads the sample scenario, starts a plan, and while it solves sends a
bounded number of GET requests (health, scenario, readings page, plan status,
plan list) from several threads. Reports latency percentiles and errors to
``benchmarks/results/api_load.{csv,json,md}``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from binroute.api.service.client import scenario_upload, served

from .common import RESULTS, ROOT, table, write_results

SAMPLE = ROOT / "sample_data" / "helsinki"


def _call(url: str, key: str, data: bytes | None = None, ctype: str = "application/json") -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=data, method="POST" if data is not None else "GET", headers={"X-API-Key": key, "Content-Type": ctype}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        body = err.read()
        err.close()
        return err.code, body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--solve-s", type=float, default=20.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="binroute-load-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'load.sqlite3'}"
        key = subprocess.run(
            [
                sys.executable,
                "-m",
                "binroute.api.cli",
                "keys",
                "create",
                "--name",
                "load",
                "--role",
                "planner",
                "--database",
                db,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
        ).stdout.split()[2]
        with served(db, cwd=tmp, options=("--workers", str(args.threads))) as base:
            upload, ctype = scenario_upload("sample", SAMPLE)
            _, body = _call(f"{base}/api/v1/scenarios", key, upload, ctype)
            sid = json.loads(body)["id"]
            _, body = _call(
                f"{base}/api/v1/scenarios/{sid}/plans",
                key,
                json.dumps({"date": "2026-11-23", "time_limit_s": args.solve_s, "engine": "ortools"}).encode(),
            )
            plan_url = base + json.loads(body)["links"]["self"]
            urls = [
                f"{base}/healthz",
                f"{base}/api/v1/scenarios/{sid}",
                f"{base}/api/v1/scenarios/{sid}/readings?limit=200",
                plan_url,
                f"{base}/api/v1/plans",
            ]

            def one(i: int) -> tuple[str, int, float]:
                url = urls[i % len(urls)]
                began = time.perf_counter()
                code, _ = _call(url, key)
                return url.replace(base, "").split("?")[0].replace(sid, "{id}"), code, time.perf_counter() - began

            began = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                results = list(pool.map(one, range(args.requests)))
            wall = time.perf_counter() - began
            _, body = _call(plan_url, key)
            during = json.loads(body)["status"]
    rows = []
    for route in sorted({r[0] for r in results}):
        lat = np.array([r[2] for r in results if r[0] == route]) * 1000
        errors = sum(1 for r in results if r[0] == route and r[1] >= 400)
        rows.append(
            {
                "route": route,
                "requests": len(lat),
                "p50_ms": round(float(np.percentile(lat, 50)), 1),
                "p95_ms": round(float(np.percentile(lat, 95)), 1),
                "p99_ms": round(float(np.percentile(lat, 99)), 1),
                "errors": errors,
            }
        )
    meta = {
        "requests": args.requests,
        "threads": args.threads,
        "wall_s": round(wall, 2),
        "throughput_rps": round(args.requests / wall, 1),
        "plan_status_after": during,
    }
    write_results("api_load", rows, meta)
    text = table(rows, ["route", "requests", "p50_ms", "p95_ms", "p99_ms", "errors"]) + f"\n\n{meta}"
    (RESULTS / "api_load.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
