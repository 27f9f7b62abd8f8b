"""The process-wide lock around numba's thread pool, held by every search that runs on several threads.

numba's default thread pool (workqueue) aborts the process if two threads of
ours (two plans in one server) enter it at once, so :mod:`.many_to_many`
and :mod:`.dial` take :data:`PARALLEL_LOCK` around their parallel loops.
"""

from __future__ import annotations

import threading

#: Held while compiled code runs on several threads: numba's default thread pool (workqueue) aborts the
#: process if two threads of ours (two plans in one server) enter it at once.
PARALLEL_LOCK = threading.Lock()
