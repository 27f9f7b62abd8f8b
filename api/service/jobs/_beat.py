"""A running job's heartbeat from a process of its own: ``python -P -m binroute.api.service.jobs._beat``.

:class:`~binroute.api.service.jobs.lifecycle.Heartbeat` starts it and writes one
JSON line on its standard input: ``{"database_url", "kind", "job_id", "every_s"}``
(on standard input, so that a password in the URL never shows in a process list).
It writes the job's heartbeat at once, says ``beating`` on its standard output, and
every ``every_s`` seconds writes it again
(:func:`~binroute.api.service.jobs.lifecycle.beat`) until its standard input
ends: the job's process closed it (the job is over) or died (``kill -9``, out of
memory), when the kernel closes it. A search that holds the job process's
interpreter does not stop the beats.
"""

from __future__ import annotations

import json
import os
import select
import sys

from ..db import make_engine, sessions
from .lifecycle import beat


def main() -> int:
    """Beat until standard input ends; 0, or 2 for an order that cannot be read."""
    line = sys.stdin.buffer.readline()
    try:
        order = json.loads(line)
        url, item, job_id, every_s = order["database_url"], order["kind"], order["job_id"], float(order["every_s"])
    except (ValueError, KeyError, TypeError) as exc:
        wanted = "a JSON line with database_url, kind, job_id, every_s"
        print(f"heartbeat: the order on standard input must be {wanted} ({exc})", file=sys.stderr)
        return 2
    from . import KINDS

    kind = next((k for k in KINDS if k.item == item), None)
    if kind is None:
        print(f"heartbeat: no kind of job {item!r}", file=sys.stderr)
        return 2
    engine = make_engine(url)
    factory = sessions(engine)
    stdin = sys.stdin.buffer.fileno()
    ready = False
    try:
        while True:
            beat(factory, kind, job_id)
            if not ready:  # the job's process waits for this before it goes on
                sys.stdout.buffer.write(b"beating\n")
                sys.stdout.buffer.flush()
                ready = True
            readable, _, _ = select.select([stdin], [], [], every_s)
            if readable and not os.read(stdin, 4096):
                return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
