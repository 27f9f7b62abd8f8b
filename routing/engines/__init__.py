"""The search engines behind :func:`binroute.routing.solve`, one module each.

- :mod:`.ortools`: OR-Tools' routing model (all ``RoutingIndexManager``
  bookkeeping stays there);
- :mod:`.pyvrp`: PyVRP's iterated local search;
- :mod:`.tips`: tips put into a fixed order of bins where they cost least
  (PyVRP's whole-day formulation).

Callers go through :func:`binroute.routing.solve`, which picks and combines them.
"""

from .ortools import WarmStartRejected as WarmStartRejected
from .ortools import solve_ortools as solve_ortools
from .pyvrp import Found as Found
from .pyvrp import search as search
from .pyvrp import search_on as search_on
from .pyvrp import solve_pyvrp as solve_pyvrp
from .pyvrp import unsupported as unsupported
from .tips import insert_tips as insert_tips
