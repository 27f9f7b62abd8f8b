"""Jobs whose process is gone, handed out again: :class:`Sweeper`, run by the server and by every worker.

The server runs one whichever runner it has: with a task queue it sends the
tasks again; without one (:class:`~.local.JobRunner`, jobs in local processes)
it runs the jobs itself, so a plan whose server died with its process (another
replica on the same database, a lost machine) is not left ``running``.

A worker killed mid-job (``kill -9``, a lost machine) leaves its job
``running`` with a heartbeat that stops moving; a broker restarted without
persistence loses the tasks of jobs still ``queued``. Every :data:`HEARTBEAT_S`
seconds a sweeper looks for such jobs (:func:`~.lifecycle.requeue_stale`: a
heartbeat older than :data:`STALE_S`, three missed beats), puts each back on the
queue in one conditional UPDATE, and sends its task again (``send``); a job
queued for more than :data:`QUEUED_S` (2 minutes) is sent again the same way. The
broker's own redelivery (Redis's visibility timeout, RabbitMQ's at once) is not
waited for; a copy it hands out later finds the job running elsewhere or done.
With the defaults a dead worker's job is handed out again 30 to 40 seconds
after its last beat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from . import lifecycle
from .kind import JobKind

log = logging.getLogger(__name__)
#: Sends one job's task again: ``send(kind, job_id)``.
Send = Callable[[JobKind, str], None]
#: The ids of the jobs of a kind the sweeping process holds itself (queued in its pool, or running): ``held(kind)``.
Held = Callable[[JobKind], Collection[str]]


class Sweeper:
    """Hands out again, every ``every_s`` seconds from a daemon thread, the jobs of ``kinds`` whose process is gone.

    ``every_s`` and ``stale_s`` default to :data:`~.lifecycle.HEARTBEAT_S` and
    :data:`~.lifecycle.STALE_S`. :meth:`sweep` does one round (tests call it).
    A database or broker that fails a round is logged, and the next round tries again.
    ``held`` names the jobs the sweeping process holds itself (a local runner's own
    queued and running jobs), which are never its to hand out again.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        kinds: Sequence[JobKind],
        send: Send,
        *,
        every_s: float | None = None,
        stale_s: float | None = None,
        queued_s: float | None = None,
        held: Held | None = None,
    ) -> None:
        self.factory, self.kinds, self.send, self.held = factory, tuple(kinds), send, held
        self.every_s = lifecycle.HEARTBEAT_S if every_s is None else every_s
        self.stale_s = lifecycle.STALE_S if stale_s is None else stale_s
        self.queued_s = lifecycle.QUEUED_S if queued_s is None else queued_s
        self.handed_out = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="binroute-sweeper", daemon=True)

    def sweep(self) -> list[str]:
        """One round: the ids of the jobs handed out again."""
        sent: list[str] = []
        for kind in self.kinds:
            exclude = self.held(kind) if self.held is not None else ()
            lost = lifecycle.requeue_stale(
                self.factory, kind, stale_s=self.stale_s, queued_s=self.queued_s, exclude=exclude
            )
            for job_id in lost:
                log.warning("%s %s lost its process or its task; handed out again", kind.item, job_id)
                try:
                    self.send(kind, job_id)
                except Exception as exc:  # it stays queued with its mark; the next round after stale_s sends it again
                    log.warning("could not send %s %s again: %s", kind.item, job_id, exc)
                    continue
                sent.append(job_id)
        self.handed_out += len(sent)
        return sent

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.sweep()
            except SQLAlchemyError as exc:
                log.warning("could not look for lost jobs: %s", exc)
            except Exception:
                log.exception("the sweep for lost jobs failed")

    def start(self) -> Sweeper:
        """Start sweeping from a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sweeping (waits for a round under way)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)
