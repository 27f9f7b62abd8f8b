"""One background job in its own process: ``python -P -m binroute.api.service.jobs KIND DATABASE_URL JOB_ID WORKDIR``.

``KIND`` is a kind's :attr:`~binroute.api.service.jobs.kind.JobKind.item`
(``plan``, ``simulation``). The local runner
(:class:`~binroute.api.service.jobs.local.JobRunner`) starts these processes
(:meth:`~binroute.api.service.jobs.kind.JobKind.command`); the job's heartbeat
is written while it runs, and its outcome, or its error, is stored on its row. It runs at
:data:`~binroute.api.service.defaults.JOB_NICENESS`, below the server that started it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .._priority import lower_priority
from ..db import make_engine, sessions
from . import KINDS
from .lifecycle import Heartbeat


def main(argv: list[str]) -> int:
    """Run the job ``argv`` names (``KIND DATABASE_URL JOB_ID WORKDIR``) and store its outcome on its row.

    Returns 0 unless the process itself failed (2: no such kind).
    """
    item, url, job_id, workdir = argv
    kind = next((k for k in KINDS if k.item == item), None)
    if kind is None:
        print(f"no kind of job {item!r}; one of {', '.join(k.item for k in KINDS)}", file=sys.stderr)
        return 2
    lower_priority()  # the server's requests come first
    engine = make_engine(url)
    try:
        factory = sessions(engine)
        with Heartbeat(factory, kind, job_id, database_url=url):
            kind.run(factory, job_id, Path(workdir))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
