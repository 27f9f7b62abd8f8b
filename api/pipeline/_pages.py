"""HTML pages from the template files in ``templates/`` (shipped as package data).

A template marks each value as ``__NAME__``; :func:`render_page` fills them in one
pass, so a placeholder-like text inside a value stays as it is. No template
engine: the pages need none, and a library install stays lean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files

_PLACEHOLDER = re.compile(r"__[A-Z_]+__")


@cache
def page_template(name: str) -> str:
    """The text of ``templates/<name>``, read once per process."""
    return (files(__package__ or "binroute.api.pipeline") / "templates" / name).read_text(encoding="utf-8")


def render_page(name: str, values: Mapping[str, str]) -> str:
    """``templates/<name>`` with each ``__NAME__`` in ``values`` replaced; other text left as it is."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), page_template(name))
