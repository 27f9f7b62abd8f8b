"""Schemathesis against a real ``binroute serve`` on loopback: no server errors, every answer as documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from binroute.api.service.client import (
    schemathesis_command,
    seed_for_fuzzing,
    served,
    write_schemathesis_config,
)

#: Fixed seed and a bounded number of cases per operation and phase: a few hundred requests, well under 60 s.
SEED, MAX_EXAMPLES = 17, 12


def _cli(*args: str, cwd: Path) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "binroute.api.cli", *args], capture_output=True, text=True, cwd=cwd, check=True
    )
    return run.stdout


@pytest.mark.service
def test_schemathesis_finds_nothing(tmp_path, small):
    """Every phase (examples, coverage, fuzzing, stateful) and every check but positive-data acceptance passes.

    The database holds a scenario with readings, collections and a finished plan first,
    and their ids are the path parameters, so the routes with ids are tried past their 404s.

    Positive-data acceptance is left out: a fleet or bins table can match the document's
    shapes and still be refused (422) for what it means (a vehicle with an unknown depot).
    """
    db = f"sqlite:///{tmp_path / 'fuzz.sqlite3'}"
    org_id = _cli("orgs", "create", "fuzzers", "--database", db, cwd=tmp_path).split()[0]
    secret = _cli("keys", "create", "--org", org_id, "--name", "f", "--role", "admin", "--database", db, cwd=tmp_path)
    with served(db, cwd=tmp_path, options=("--rate-limit", "off")) as base:
        write_schemathesis_config(tmp_path, seed_for_fuzzing(base, secret.split()[2], small))
        run = subprocess.run(
            schemathesis_command(base, secret.split()[2], max_examples=MAX_EXAMPLES, seed=SEED),
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=240,
            check=False,
        )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    generated = re.search(r"(\d+) generated", run.stdout)
    assert generated and int(generated.group(1)) >= 200, run.stdout[-2000:]
