"""The service's settings the command line shows in its help, readable without Flask or SQLAlchemy.

``binroute --help`` (and a library install without the ``service`` extra) reads
these; the service's own modules import them from here.
"""

from __future__ import annotations

#: Roles, weakest first; each may do what the ones before it may.
ROLES = ("viewer", "planner", "admin")
#: Starts of one plan's solve (or one simulation) before it is marked failed instead of started again.
MAX_ATTEMPTS = 3
#: Niceness of the processes that run jobs (solves, simulations): the kernel schedules ``serve``'s
#: request threads first on a machine whose cores the solvers fill (19 is the lowest priority).
JOB_NICENESS = 10
