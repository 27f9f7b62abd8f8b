"""API keys on requests: the ``require(role)`` decorator, with the organisation's request-rate and upload limits.

A key belongs to one organisation and has one role (``viewer`` < ``planner`` <
``admin``, each allowed what the ones before it are). ``require`` sets
``g.key``; the blueprints scope every query to ``g.key.org_id`` through
:mod:`.store`.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from limits import RateLimitItem
from limits import parse as parse_rate
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .db import find_key, role_allows
from .errors import APIError
from .live.tokens import find_crew_token
from .store import own_or_server

log = logging.getLogger(__name__)
KEY_HEADER = "X-API-Key"
#: The header of a crew's token (:mod:`.live.tokens`), which some endpoints take instead of a key.
CREW_HEADER = "X-Crew-Token"
#: Seconds a request waits for the request counts' Redis before it is let through uncounted.
RATE_STORAGE_TIMEOUT_S = 0.5
#: An organisation's own rate that turns the request-rate limit off for it.
RATE_OFF = "off"
#: The server setting for the largest request body, which an organisation's own ``max_upload_bytes`` replaces.
UPLOAD_SETTING = "ORG_MAX_UPLOAD_BYTES"

_NEEDS = {
    "planner": "this key may only read; writing needs a planner key",
    "admin": "managing keys and reading the audit trail needs an admin key",
}


def rate_storage_uri(config: Any) -> str | None:
    """Where request counts live: ``RATE_LIMIT_STORAGE``, else a ``redis://`` broker, else this process (``None``)."""
    given = config.get("RATE_LIMIT_STORAGE")
    if given:
        return str(given)
    broker = config.get("BROKER_URL") or ""
    return broker if broker.startswith(("redis://", "rediss://")) else None


def init_rate_limits(app: Flask) -> None:
    """Attach the per-organisation request-rate limiter; ``RATE_LIMIT`` (e.g. ``"600/minute"``) is the server's rate.

    The counts (``limits``' moving window) live in Redis where one is configured
    (``RATE_LIMIT_STORAGE``, else a ``redis://`` ``BROKER_URL``), so that every
    ``serve`` replica behind a load balancer counts against one organisation's rate;
    else in this process's memory (one ``serve``: one process, many threads). An
    organisation's own rate (``binroute orgs limits ORG --rate``) replaces the
    server's for its keys. A Redis that cannot be reached lets requests through
    (logged): the rate limit never takes the API down with it.
    """
    rate = app.config.get("RATE_LIMIT")
    app.extensions["binroute"]["rate"] = parse_rate(rate) if rate else None
    uri = rate_storage_uri(app.config)
    storage: Any = (
        MemoryStorage()
        if uri is None
        else storage_from_string(
            uri,
            key_prefix="binroute-rate",
            socket_timeout=RATE_STORAGE_TIMEOUT_S,
            socket_connect_timeout=RATE_STORAGE_TIMEOUT_S,
        )
    )
    app.extensions["binroute"]["rate_limiter"] = MovingWindowRateLimiter(storage)


def rate_of(own: str | None) -> RateLimitItem | None:
    """The request rate that holds for an organisation whose own setting is ``own``: ``None`` for none at all."""
    if own is None:
        item: RateLimitItem | None = current_app.extensions["binroute"].get("rate")
        return item
    return None if own == RATE_OFF else _parsed(own)


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> RateLimitItem:
    return parse_rate(text)


def _check_rate(org_id: str, own: str | None) -> None:
    """429 with ``Retry-After`` if the organisation has used up its request rate."""
    item = rate_of(own)
    if item is None:
        return
    limiter = current_app.extensions["binroute"]["rate_limiter"]
    try:
        allowed = limiter.hit(item, org_id)
        reset = 0.0 if allowed else limiter.get_window_stats(item, org_id).reset_time
    except Exception as exc:  # the counts' storage (Redis) is away: let the request through
        log.warning("request-rate counts unavailable (%s); request let through", exc)
        return
    if not allowed:
        wait = max(1, math.ceil(reset - time.time()))
        raise APIError(
            429,
            "too_many_requests",
            f"the organisation's keys may make {item} requests; try again in {wait} s",
            {"limit": str(item)},
            headers={"Retry-After": str(wait)},
        )


def require(role: str, *, crew: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: a valid API key whose role allows ``role``; sets ``g.key`` (and ``g.crew`` to ``None``).

    With ``crew``, a crew's token in the :data:`CREW_HEADER` header is taken instead of
    a key: ``g.crew`` is its row and ``g.key`` is ``None``; an unknown, expired or
    revoked token is a 401. The handler confines the crew to its own crew-day.
    """

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            g.crew = None
            token = request.headers.get(CREW_HEADER, "") if crew else ""
            if token:
                with g.db() as s:
                    found_crew = find_crew_token(s, token)
                g.key, g.crew = None, found_crew[0]
                _check_rate(found_crew[1].id, found_crew[1].rate_limit)
                return func(*args, **kwargs)
            secret = request.headers.get(KEY_HEADER, "")
            if not secret:
                raise APIError(401, "unauthorized", f"send an API key in the {KEY_HEADER} header")
            with g.db() as s:
                found = find_key(s, secret)
            if found is None:
                raise APIError(401, "unauthorized", "unknown or revoked API key")
            key, org = found
            if not role_allows(key.role, role):
                raise APIError(403, "forbidden", _NEEDS.get(role, f"needs a {role} key"))
            g.key = key
            _check_rate(key.org_id, org.rate_limit)
            cap = own_or_server(org.max_upload_bytes, UPLOAD_SETTING)
            if request.content_length is not None and request.content_length > cap:
                raise APIError(413, "too_large", f"the request body is over this organisation's {cap} byte limit")
            return func(*args, **kwargs)

        return inner

    return wrap
