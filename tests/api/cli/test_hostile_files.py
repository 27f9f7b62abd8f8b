"""Files built to hurt, given to the command line: exit 2 with one message naming the file and its problem."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from binroute.api.cli import main
from binroute.api.service.client import small_scenario

from ...helpers import SAMPLE
from ...hostile import EXPECTED, NETWORK_CASES, corpus

#: The name each hostile file takes in a scenario directory, by the upload's form field.
SCENARIO_NAMES = {"bins": "bins.csv", "fleet": "fleet.json"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 30-bin scenario cut from the sample."""
    return small_scenario(SAMPLE, tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def files(small):
    """The corpus, built once from the small scenario."""
    return corpus(small)


def _scenario_with(small, folder, field: str, filename: str, data: bytes):
    """The small scenario copied to ``folder`` with one file replaced by the hostile one."""
    folder.mkdir()
    for part in small.iterdir():
        (folder / part.name).write_bytes(part.read_bytes())
    if field == "network":
        (folder / "network.osm.pbf").unlink()
        suffix = next(s for s in (".osm.pbf", ".osm.bz2", ".osm") if filename.endswith(s))
        target = folder / f"network{suffix}"
    else:
        target = folder / SCENARIO_NAMES[field]
    target.write_bytes(data)
    return target


#: The cases a forecast meets too: it reads the bins and the fleet, not the road network.
NOT_NETWORK = sorted(c for c in EXPECTED if c not in NETWORK_CASES and c != "bin far outside the network")
CASES = [("plan", c) for c in sorted(EXPECTED)] + [("forecast", c) for c in NOT_NETWORK]


@pytest.mark.parametrize(("command", "case"), CASES)
def test_a_hostile_file_stops_the_command_with_exit_2_naming_it(small, files, case, command, tmp_path):
    """`binroute plan` and `binroute forecast` on a scenario holding one hostile file: exit 2, its name, its problem."""
    field, filename, data = files[case]
    target = _scenario_with(small, tmp_path / "scenario", field, filename, data)
    args = [command, str(target.parent)]
    if command == "plan":
        args += ["--date", "2026-11-23", "--out", str(tmp_path / "out"), "--solution-limit", "1"]
    else:
        args += ["--at", "2026-11-23T06:00"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2, (run.exit_code, run.output[-2000:], run.exception)
    message = run.stderr.strip()
    assert "Traceback" not in run.output and len(message) < 1000, message[:1000]
    assert target.name in message and EXPECTED[case] in message, message
