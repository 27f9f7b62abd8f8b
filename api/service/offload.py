"""CPU-heavy work of a request (a forecast's model fits) in processes of their own, off the request threads.

A forecast fits its models over a scenario's readings: seconds of CPU in pandas
and numpy, much of it holding the interpreter. In ``serve``'s own process every
other request thread waits for the interpreter behind it at each step (each
database round trip gives it up and must win it back), so cheap reads took
hundreds of milliseconds while forecasts ran. :class:`Offload` runs such work in
a small pool of processes (``FORECAST_PROCESSES``, ``binroute serve
--forecast-processes``); the request thread waits for the answer without the
interpreter. They run at niceness ``FORECAST_NICENESS`` (``serve
--forecast-niceness``, 5; the app's default 0), below the request threads and
above the solvers (niceness 10): a forecast's seconds of fitting then wait
while a read's milliseconds run. Measured with ``benchmarks.soak`` (2-minute
runs, 10 organisations, no faults, alternating, on a 2-core machine shared
with other jobs at load 9 to 11): reads' p50 59-81 ms and p95 108-221 ms at
niceness 5 against 76-113 and 194-373 ms at 0; forecasts' p50 24-33 s
against 20-24 s. On a machine whose other processes keep every core busy at
niceness 0 a higher niceness can starve the forecasts: give 0 there. With 0
processes (the app's default, and the tests') the work runs in the request
thread as before.

A pool process outlives nothing: each watches its server (:func:`_start_process`) and
exits within :data:`PARENT_POLL_S` once the server is gone, stopped or killed with
SIGKILL, instead of staying idle with its few hundred MB for good.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ._priority import lower_priority

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How often (seconds) a pool process checks that its server is still there.
PARENT_POLL_S = 1.0


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)  # no cleanup to do: the process holds no state of its own


def _start_process(parent: int, niceness: int) -> None:
    """A pool process's initializer: run at ``niceness``, and end once ``parent`` is no longer its parent.

    A process whose parent dies is handed to another (init or a subreaper), so
    its parent id changes; a daemon thread watches for that, since a killed
    server's pool would otherwise wait forever for work that never comes.
    """
    if niceness > 0:
        lower_priority(niceness)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), name="follow-parent", daemon=True).start()


class Offload:
    """Runs functions in ``processes`` processes of their own (started on first use), or here with 0."""

    def __init__(self, processes: int, niceness: int = 0) -> None:
        if processes < 0:
            raise ValueError(f"FORECAST_PROCESSES must be 0 or more, not {processes}")
        if not 0 <= niceness <= 19:
            raise ValueError(f"FORECAST_NICENESS must be 0 to 19, not {niceness}")
        self.processes, self.niceness = processes, niceness
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: a fresh interpreter, never a fork of a server holding threads and connections
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=context,
                    initializer=_start_process,
                    initargs=(os.getpid(), self.niceness),
                )
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
