"""API keys on requests: the ``require(role)`` decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request

from .db import find_key
from .errors import APIError

KEY_HEADER = "X-API-Key"


def require(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: a valid API key with ``role`` (``planner`` may do what ``viewer`` may)."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            secret = request.headers.get(KEY_HEADER, "")
            if not secret:
                raise APIError(401, "unauthorized", f"send an API key in the {KEY_HEADER} header")
            with g.db() as s:
                key = find_key(s, secret)
            if key is None:
                raise APIError(401, "unauthorized", "unknown or revoked API key")
            if role == "planner" and key.role != "planner":
                raise APIError(403, "forbidden", "this key may only read; writing needs a planner key")
            g.key = key
            return func(*args, **kwargs)

        return inner

    return wrap
