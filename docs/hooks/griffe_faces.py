"""A griffe extension: a package face's re-exports are its public API.

binroute's faces (``binroute/__init__.py``, ``routing/__init__.py``, ...)
re-export names with ``from .module import Name as Name`` and, except for
``binroute`` itself, declare no ``__all__``; griffe counts such aliases as
private, so mkdocstrings would render the faces' docstrings and nothing else.
This marks every alias of a face that points inside binroute as public.
"""

from __future__ import annotations

from typing import Any

import griffe


class FacesArePublic(griffe.Extension):
    """Mark a module's aliases to other binroute objects as public."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the loaded ``binroute`` package once it is loaded."""
        if pkg.name == "binroute":
            self._mark(pkg, seen=set())

    def _mark(self, module: griffe.Module, *, seen: set[str]) -> None:
        if module.path in seen:
            return
        seen.add(module.path)
        for name, member in module.members.items():
            if name.startswith("_"):
                continue
            if member.is_alias:
                if member.target_path.startswith("binroute."):
                    member.public = True
            elif member.is_module:
                self._mark(member, seen=seen)
