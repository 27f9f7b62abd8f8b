"""Request data checked against the pydantic models of :mod:`.schemas`."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` with ``model``; a ``ValidationError`` is answered as 422 with field paths."""
    return model.model_validate(data)


def parse_json(model: type[M]) -> M:
    """The request's JSON body as ``model``, validated strictly (no ``"5"`` for 5, no number for a date).

    A body that is not ``application/json`` is a 415, one that is not JSON a 400
    (both raised by Flask), and one that breaks the model a 422.
    """
    request.get_json(silent=False)
    return model.model_validate_json(request.get_data(), strict=True)
