"""The composition of :mod:`geo` and :mod:`routing`: from a scenario directory to a written plan.

Modules, in the order a plan runs through them:

- :mod:`.scenario`: reading and validating a scenario directory (fleet, bins, readings, network);
- :mod:`.options`: a run's options, with the defaults and bounds the CLI and HTTP API share;
- :mod:`.reach`: bins and sites far from every road refused;
- :mod:`.roads`: places snapped to the road network, travel matrices per vehicle profile;
- :mod:`.forecast`: the collect rule and must/may/skip per bin;
- :mod:`.problem`: the routing ``Problem`` for the day;
- :mod:`.plan`: the stages run in order (:func:`plan_scenario`);
- :mod:`.report`: the solved day as GeoJSON and ``plan.json``;
- :mod:`.write`: the files (route sheets, GPX, GeoPackage, PNG) and :mod:`.mapview`: the map page;
- :mod:`.errors`: the errors a user's input can cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binroute._lazy import lazy_exports

#: public name -> the module (relative to this package) that defines it
_EXPORTS = {
    "USER_ERRORS": ".errors",
    "RowError": ".errors",
    "ScenarioError": ".errors",
    "decision_rules": ".forecast",
    "forecast_bins": ".forecast",
    "PlanOptions": ".options",
    "PlanResult": ".plan",
    "plan_scenario": ".plan",
    "check_near_roads": ".reach",
    "Scenario": ".scenario",
    "load_scenario": ".scenario",
    "EXPORTS": ".options",
    "write_plan": ".write",
}

__all__ = [
    "EXPORTS",
    "USER_ERRORS",
    "PlanOptions",
    "PlanResult",
    "RowError",
    "Scenario",
    "ScenarioError",
    "check_near_roads",
    "decision_rules",
    "forecast_bins",
    "load_scenario",
    "plan_scenario",
    "write_plan",
]

if TYPE_CHECKING:
    from .errors import USER_ERRORS as USER_ERRORS
    from .errors import RowError as RowError
    from .errors import ScenarioError as ScenarioError
    from .forecast import decision_rules as decision_rules
    from .forecast import forecast_bins as forecast_bins
    from .options import EXPORTS as EXPORTS
    from .options import PlanOptions as PlanOptions
    from .plan import PlanResult as PlanResult
    from .plan import plan_scenario as plan_scenario
    from .reach import check_near_roads as check_near_roads
    from .scenario import Scenario as Scenario
    from .scenario import load_scenario as load_scenario
    from .write import write_plan as write_plan


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
