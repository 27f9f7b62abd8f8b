"""Processes that must not slow the server's answers run at a lower CPU priority (a higher niceness).

Requests first (``serve``'s request threads and its forecast processes, niceness
0), then solves and simulations (:data:`~.defaults.JOB_NICENESS`): on a machine
whose cores the solvers fill, the kernel runs a request's few milliseconds of work first.
"""

from __future__ import annotations

import logging
import os

from .defaults import JOB_NICENESS

log = logging.getLogger(__name__)


def lower_priority(niceness: int = JOB_NICENESS) -> None:
    """Run this process at ``niceness`` (absolute, not an increment: called again it changes nothing).

    A process already nicer, or a system that refuses, is left as it is (the refusal is logged).
    """
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < niceness:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except OSError as exc:
        log.warning("could not lower this process's priority: %s", exc)
