"""Helpers shared by the benchmarks: where the shared data is, how results are written."""

from __future__ import annotations

import csv
import json
import os
import resource
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BINROUTE_SHARED", ROOT.parent / "shared")) / "benchmarks"
RESULTS = ROOT / "benchmarks" / "results"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_results(name: str, rows: list[dict[str, object]], meta: dict[str, object]) -> Path:
    """Write rows as CSV and everything as JSON under ``benchmarks/results``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    csv_path = RESULTS / f"{name}.csv"
    if rows:
        with csv_path.open("w", newline="") as fh:
            fields = list(dict.fromkeys(k for r in rows for k in r))
            writer = csv.DictWriter(fh, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(rows)
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return csv_path


def table(rows: list[dict[str, object]], columns: list[str]) -> str:
    """A Markdown table of ``rows``."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
