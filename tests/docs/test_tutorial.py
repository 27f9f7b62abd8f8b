"""The tutorial's shell commands, run as written (docs/tutorial.md).

A fenced ``sh`` block preceded by ``<!-- test -->`` is run; one preceded by
``<!-- test: creates PATH ... -->`` must also leave those files. Blocks run in
page order, in one temporary folder that holds a copy of the sample, with the
virtual environment's ``bin`` first on PATH (as after ``source .venv/bin/activate``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
_BLOCK = re.compile(r"<!-- test(?::\s*creates\s+(?P<creates>[^>]*?))?\s*-->\s*\n```sh\n(?P<code>.*?)\n```", re.S)


def tutorial_blocks(text: str) -> list[tuple[str, list[str]]]:
    """The marked shell blocks of a page, each with the files it says it creates."""
    return [(m["code"], (m["creates"] or "").split()) for m in _BLOCK.finditer(text)]


def test_blocks_are_found() -> None:
    """The marker finds every runnable block, with the files each names."""
    text = (
        "intro\n<!-- test -->\n```sh\necho a\n```\n\n```sh\nnot run\n```\n"
        "<!-- test: creates x/y z -->\n```sh\ntouch z\n```\n"
    )
    assert tutorial_blocks(text) == [("echo a", []), ("touch z", ["x/y", "z"])]
    assert len(tutorial_blocks(TUTORIAL.read_text(encoding="utf-8"))) >= 5


@pytest.mark.slow
@pytest.mark.docs
def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    """Every marked block of the tutorial exits 0 and writes the files it names."""
    shutil.copytree(ROOT / "sample_data" / "helsinki", tmp_path / "sample_data" / "helsinki")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for code, creates in tutorial_blocks(TUTORIAL.read_text(encoding="utf-8")):
        done = subprocess.run(
            ["bash", "-e", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{code}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        for name in creates:
            assert (tmp_path / name).is_file(), f"{code}\ndid not write {name}"
