"""The wheel installs one import name, ``binroute``, its console script and its package data."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile

import pytest

from .helpers import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from this checkout (offline: no build isolation, setuptools and wheel from the dev extra)."""
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    (built,) = out.glob("binroute-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.slow
def test_wheel_installs_only_binroute_and_its_command(wheel):
    """Every top-level entry is ``binroute/`` or the metadata; the one console script is ``binroute``."""
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names}
    (dist_info,) = (top for top in tops if top.endswith(".dist-info"))
    assert tops == {"binroute", dist_info}
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(f"{dist_info}/entry_points.txt").decode())
    assert entry_points.sections() == ["console_scripts"]
    assert dict(entry_points["console_scripts"]) == {"binroute": "binroute.api.cli:main"}
    for package in ("routing", "geo", "api"):
        assert f"binroute/{package}/__init__.py" in names


@pytest.mark.slow
def test_wheel_holds_the_package_data(wheel):
    """py.typed, the page templates and the migrations' template and versions are inside."""
    names = set(wheel.namelist())
    assert {"binroute/py.typed", "binroute/routing/py.typed", "binroute/geo/py.typed"} <= names
    assert "binroute/api/service/migrations/script.py.mako" in names
    templates = {f"binroute/api/pipeline/templates/{p.name}" for p in (ROOT / "api/pipeline/templates").glob("*.html")}
    assert templates and templates <= names
    versions = {
        f"binroute/api/service/migrations/versions/{p.name}" for p in ROOT.glob("api/service/migrations/versions/*.py")
    }
    assert versions and versions <= names
    for name in templates:
        assert wheel.read(name) == (ROOT / name.removeprefix("binroute/")).read_bytes()
