"""Start-up stays light: a bare import and ``binroute --help`` load no heavy library, and a library
install (without the ``service`` extra) plans and says what to install for the service.

Each check runs in a fresh interpreter, since this test process has loaded everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Libraries that cost seconds or hundreds of MB to import; start-up must not need them.
HEAVY = (
    "numba",
    "geopandas",
    "ortools",
    "pyvrp",
    "sklearn",
    "pandas",
    "scipy",
    "flask",
    "sqlalchemy",
    "celery",
    "osmnx",
    "matplotlib",
    "shapely",
)
#: The ``service`` extra's libraries, which the library side (pipeline, routing, geo) never imports.
SERVICE = ("flask", "sqlalchemy", "celery", "alembic", "psycopg", "waitress", "limits")


def _loaded(code: str, watch: tuple[str, ...]) -> list[str]:
    """Of ``watch``, the top-level modules loaded after running ``code`` in a new interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.partition('.')[0] for m in sys.modules}})))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    loaded = set(json.loads(run.stdout.splitlines()[-1]))
    return sorted(loaded.intersection(watch))


@pytest.mark.parametrize(
    "code",
    [
        "import binroute",
        "import binroute.routing, binroute.api.pipeline, binroute.api.service",
        "from binroute.api.cli import main\n"
        "try:\n    main(['--help'], prog_name='binroute')\nexcept SystemExit as stop:\n    assert stop.code == 0",
        "from binroute.api.cli import main\n"
        "try:\n    main(['--version'], prog_name='binroute')\nexcept SystemExit as stop:\n    assert stop.code == 0",
    ],
    ids=["import", "package-faces", "help", "version"],
)
def test_start_up_loads_no_heavy_library(code):
    """A bare import, the package faces, ``binroute --help`` and ``--version`` load none of :data:`HEAVY`."""
    assert _loaded(code, HEAVY) == []


def test_help_of_every_command_loads_no_heavy_library():
    """Each command's own ``--help`` needs no heavy library either (options come from light modules)."""
    code = (
        "from binroute.api.cli import main\n"
        "import click\n"
        "def walk(cmd, path):\n"
        "    yield path\n"
        "    for name, sub in getattr(cmd, 'commands', {}).items():\n"
        "        yield from walk(sub, [*path, name])\n"
        "for path in walk(main, []):\n"
        "    try:\n"
        "        main([*path, '--help'], prog_name='binroute')\n"
        "    except SystemExit as stop:\n"
        "        assert stop.code == 0, path\n"
    )
    assert _loaded(code, HEAVY) == []


@pytest.mark.slow
def test_the_pipeline_needs_no_service_library():
    """Planning (pipeline, routing, geo) loads none of the ``service`` extra's libraries."""
    code = "import binroute.api.pipeline.plan, binroute.api.pipeline.write, binroute.routing.solver, binroute.geo"
    assert _loaded(code, SERVICE) == []


@pytest.mark.parametrize(
    "command", [["serve"], ["keys", "create", "--name", "n", "--role", "admin"], ["db", "upgrade"]]
)
def test_service_commands_without_the_extra_name_it(command):
    """Without the service's libraries, its commands print one line naming the extra and exit 2."""
    code = (
        "import sys\n"
        "for name in ('flask', 'sqlalchemy', 'waitress', 'alembic', 'celery', 'limits'):\n"
        "    sys.modules[name] = None  # as if not installed\n"
        "from binroute.api.cli import main\n"
        f"main({command!r}, prog_name='binroute')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 2, run.stderr
    assert "pip install 'binroute[service]'" in run.stderr
    assert "Traceback" not in run.stderr
