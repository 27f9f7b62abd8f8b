"""Request data checked against the pydantic models of :mod:`.schemas`."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from flask import current_app, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel

from ..pipeline import RowError, ScenarioError
from .errors import APIError

M = TypeVar("M", bound=BaseModel)
#: A request body an endpoint also takes as ``text/csv`` (read by :func:`parse_csv_body`), for its declaration.
CSV_BODY = {"text/csv": {"schema": {"type": "string"}}}


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, read strictly: ``NaN`` and ``Infinity`` (not JSON) and nesting too deep are a 400.

    Flask answers a ``ValueError`` from :meth:`loads` with 400 Bad Request; Python's
    own parser takes ``NaN`` and raises ``RecursionError`` (a 500) past its stack.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, parse_constant=_no_constant, **kwargs)
        except RecursionError as exc:
            raise ValueError("the JSON body is nested too deeply") from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


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


def parse_csv_body(load: Callable[[Path, str], pd.DataFrame], tz: str, code: str) -> pd.DataFrame:
    """The request's ``text/csv`` body read by a scenario file loader (``load(path, tz)``).

    A bad body is a 422 with error ``code``, its message naming the line and
    field as for a file, with "request body" for the file name.
    """
    folder = current_app.extensions["binroute"]["files"]
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", dir=folder, delete=False) as fh:
        fh.write(request.get_data())
    try:
        return load(Path(fh.name), tz)
    except RowError as exc:
        message = str(exc).replace(fh.name, "request body")
        raise APIError(422, code, message, {"line": exc.row + 2, "field": exc.field}) from exc
    except ScenarioError as exc:
        raise APIError(422, code, str(exc).replace(fh.name, "request body")) from exc
    finally:
        Path(fh.name).unlink(missing_ok=True)
