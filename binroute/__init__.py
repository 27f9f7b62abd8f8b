"""binroute: waste-collection rounds planned from fill data and OpenStreetMap roads.

The face a library user needs; everything else lives in three subpackages:

- :mod:`binroute.routing`: fill forecasts, the routing problem and its solvers
  (matrices, demands and vehicles; never OSM or Flask);
- :mod:`binroute.geo`: the road model (OSM graphs, snapping, travel matrices, GeoJSON);
- :mod:`binroute.api`: the edges (scenario files to a written plan, the CLI, the HTTP service).

Plan the sample town's day from Python (``make demo`` does the same from the shell)::

    import datetime
    import binroute

    scenario = binroute.load_scenario("sample_data/helsinki")
    day = datetime.date(2026, 11, 23)
    options = binroute.PlanOptions(date=day, time_limit_s=None, solution_limit=50)
    result = binroute.plan_scenario(scenario, options)
    binroute.write_plan(result, "out/library")

Names are imported on first use, so ``import binroute`` (and ``binroute --help``)
stays quick: the solvers, numba and geopandas load only when a plan needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binroute._lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "Problem": "binroute.routing",
    "Solution": "binroute.routing",
    "Limits": "binroute.routing",
    "SolveParams": "binroute.routing",
    "solve": "binroute.routing",
    "check_solution": "binroute.routing",
    "Scenario": "binroute.api.pipeline",
    "load_scenario": "binroute.api.pipeline",
    "PlanOptions": "binroute.api.pipeline",
    "plan_scenario": "binroute.api.pipeline",
    "write_plan": "binroute.api.pipeline",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from binroute.api.pipeline import PlanOptions as PlanOptions
    from binroute.api.pipeline import Scenario as Scenario
    from binroute.api.pipeline import load_scenario as load_scenario
    from binroute.api.pipeline import plan_scenario as plan_scenario
    from binroute.api.pipeline import write_plan as write_plan
    from binroute.routing import Limits as Limits
    from binroute.routing import Problem as Problem
    from binroute.routing import Solution as Solution
    from binroute.routing import SolveParams as SolveParams
    from binroute.routing import check_solution as check_solution
    from binroute.routing import solve as solve


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
