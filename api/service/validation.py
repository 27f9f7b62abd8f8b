"""Request data checked against the pydantic models of :mod:`.schemas`."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` with ``model``; a ``ValidationError`` is answered as 422 with field paths."""
    return model.model_validate(data)
