"""A longer schemathesis run against a real ``binroute serve`` on loopback (the test suite runs a short one).

    python -m benchmarks.fuzz [--max-examples 100] [--seed 17]

The database first holds a scenario (30 bins of the sample) with readings,
collections and a finished plan, whose ids every operation but DELETE is given,
so the routes with ids are tried past their 404s. Every phase (examples,
coverage, fuzzing, stateful) and every check but
positive-data acceptance (a fleet can match the document's shapes and still
be refused for what it says). Writes ``benchmarks/results/fuzz.json`` with
the counts schemathesis reports and prints its summary.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from binroute.api.service.client import (
    schemathesis_command,
    seed_for_fuzzing,
    served,
    small_scenario,
    write_schemathesis_config,
)

from .common import write_results

#: The sample scenario the seeded database's scenario is cut from.
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "helsinki"


def _cli(*args: str, cwd: Path) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "binroute.api.cli", *args], capture_output=True, text=True, cwd=cwd, check=True
    )
    return run.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="binroute-fuzz-") as tmp:
        cwd = Path(tmp)
        db = f"sqlite:///{cwd / 'fuzz.sqlite3'}"
        org_id = _cli("orgs", "create", "fuzzers", "--database", db, cwd=cwd).split()[0]
        key = _cli("keys", "create", "--org", org_id, "--name", "f", "--role", "admin", "--database", db, cwd=cwd)
        began = time.perf_counter()
        with served(db, cwd=cwd, options=("--rate-limit", "off")) as base:
            seeded = seed_for_fuzzing(base, key.split()[2], small_scenario(SAMPLE, cwd / "small"))
            write_schemathesis_config(cwd, seeded)
            run = subprocess.run(
                schemathesis_command(base, key.split()[2], max_examples=args.max_examples, seed=args.seed),
                capture_output=True,
                text=True,
                cwd=cwd,
                check=False,
            )
        seconds = time.perf_counter() - began
    tail = run.stdout[-3000:]
    print(tail)
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (generated|passed|failed|errored|skipped)", run.stdout)}
    row = {"max_examples": args.max_examples, "seed": args.seed, "seconds": round(seconds, 1),
           "exit_code": run.returncode, **counts}  # fmt: skip
    write_results("fuzz", [row], {"tool": "schemathesis"})
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
