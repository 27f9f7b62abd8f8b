"""CPU-heavy work of a request (a forecast's model fits) in processes of their own, off the request threads.

A forecast fits its models over a scenario's readings: seconds of CPU in pandas
and numpy, much of it holding the interpreter. In ``serve``'s own process every
other request thread waits for the interpreter behind it at each step (each
database round trip gives it up and must win it back), so cheap reads took
hundreds of milliseconds while forecasts ran. :class:`Offload` runs such work in
a small pool of processes (``FORECAST_PROCESSES``, ``binroute serve
--forecast-processes``); the request thread waits for the answer without the
interpreter. They run at the server's own priority: at a lower one (niceness 5
was tried) a machine shared with other busy processes starved them, and every
forecast of the soak ran past its client's 60-s timeout. With 0 processes (the
app's default, and the tests') the work runs in the request thread as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Offload:
    """Runs functions in ``processes`` processes of their own (started on first use), or here with 0."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            raise ValueError(f"FORECAST_PROCESSES must be 0 or more, not {processes}")
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: a fresh interpreter, never a fork of a server holding threads and connections
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=context)
            return self._pool

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, in a pool process when there is one (its exception raised here).

        A pool whose process died (killed, out of memory) is replaced, and ``fn`` runs once more in a new one.
        """
        if self.processes == 0:
            return fn(*args, **kwargs)
        try:
            return self._executor().submit(fn, *args, **kwargs).result()
        except BrokenProcessPool:
            log.warning("a forecast process died; starting a new pool")
            with self._lock:
                broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            return self._executor().submit(fn, *args, **kwargs).result()

    def shutdown(self) -> None:
        """Stop the pool's processes (a later :meth:`run` starts new ones)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
