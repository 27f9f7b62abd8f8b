"""binroute's routing core: fill forecasts, the routing problem and its solvers.

Knows matrices, demands and vehicles; never Flask, pydantic or OSM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binroute._lazy import lazy_exports

#: public name -> the module (relative to this package) that defines it
_EXPORTS = {
    "CheckReport": ".check",
    "check_solution": ".check",
    "overtime_hours": ".cost",
    "route_cost": ".cost",
    "Budget": ".deadline",
    "Deadline": ".deadline",
    "polish_directions": ".directions",
    "ForecastError": ".errors",
    "ForecastWarning": ".errors",
    "InfeasibleProblem": ".errors",
    "ProblemError": ".errors",
    "home_via_site": ".feasibility",
    "FEET_PER_MILE": ".instances",
    "Instance": ".instances",
    "read_instance": ".instances",
    "ENGINES": ".limits",
    "MAX_HORIZON": ".limits",
    "MAX_OVERLAP": ".limits",
    "ROUNDS": ".limits",
    "Limits": ".limits",
    "SolveParams": ".limits",
    "Bin": ".problem",
    "Break": ".problem",
    "Depot": ".problem",
    "Facility": ".problem",
    "Matrix": ".problem",
    "Problem": ".problem",
    "TimeWindow": ".problem",
    "Vehicle": ".problem",
    "CrewNow": ".midday",
    "Replan": ".midday",
    "midday_problem": ".midday",
    "replan": ".midday",
    "replan_time_limit": ".midday",
    "BIN": ".solution",
    "DEPOT": ".solution",
    "TIP": ".solution",
    "Route": ".solution",
    "Solution": ".solution",
    "Unserved": ".solution",
    "Visit": ".solution",
    "solve": ".solver",
    "ExtraCrews": ".shortfall",
    "Shortfall": ".shortfall",
    "fleet_shortfall": ".shortfall",
}
#: subpackages reachable as attributes
_SUBMODULES = ("engines", "forecast")

__all__ = [
    "BIN",
    "DEPOT",
    "ENGINES",
    "FEET_PER_MILE",
    "MAX_HORIZON",
    "MAX_OVERLAP",
    "ROUNDS",
    "TIP",
    "Bin",
    "Break",
    "Budget",
    "CheckReport",
    "CrewNow",
    "Deadline",
    "Depot",
    "ExtraCrews",
    "Facility",
    "ForecastError",
    "ForecastWarning",
    "InfeasibleProblem",
    "Instance",
    "Limits",
    "Matrix",
    "Problem",
    "ProblemError",
    "Replan",
    "Route",
    "Shortfall",
    "Solution",
    "SolveParams",
    "TimeWindow",
    "Unserved",
    "Vehicle",
    "Visit",
    "check_solution",
    "engines",
    "fleet_shortfall",
    "forecast",
    "home_via_site",
    "midday_problem",
    "overtime_hours",
    "polish_directions",
    "read_instance",
    "replan",
    "replan_time_limit",
    "route_cost",
    "solve",
]

if TYPE_CHECKING:
    from . import engines as engines
    from . import forecast as forecast
    from .check import CheckReport as CheckReport
    from .check import check_solution as check_solution
    from .cost import overtime_hours as overtime_hours
    from .cost import route_cost as route_cost
    from .deadline import Budget as Budget
    from .deadline import Deadline as Deadline
    from .directions import polish_directions as polish_directions
    from .errors import ForecastError as ForecastError
    from .errors import ForecastWarning as ForecastWarning
    from .errors import InfeasibleProblem as InfeasibleProblem
    from .errors import ProblemError as ProblemError
    from .feasibility import home_via_site as home_via_site
    from .instances import FEET_PER_MILE as FEET_PER_MILE
    from .instances import Instance as Instance
    from .instances import read_instance as read_instance
    from .limits import ENGINES as ENGINES
    from .limits import MAX_HORIZON as MAX_HORIZON
    from .limits import MAX_OVERLAP as MAX_OVERLAP
    from .limits import ROUNDS as ROUNDS
    from .limits import Limits as Limits
    from .limits import SolveParams as SolveParams
    from .midday import CrewNow as CrewNow
    from .midday import Replan as Replan
    from .midday import midday_problem as midday_problem
    from .midday import replan as replan
    from .midday import replan_time_limit as replan_time_limit
    from .problem import Bin as Bin
    from .problem import Break as Break
    from .problem import Depot as Depot
    from .problem import Facility as Facility
    from .problem import Matrix as Matrix
    from .problem import Problem as Problem
    from .problem import TimeWindow as TimeWindow
    from .problem import Vehicle as Vehicle
    from .shortfall import ExtraCrews as ExtraCrews
    from .shortfall import Shortfall as Shortfall
    from .shortfall import fleet_shortfall as fleet_shortfall
    from .solution import BIN as BIN
    from .solution import DEPOT as DEPOT
    from .solution import TIP as TIP
    from .solution import Route as Route
    from .solution import Solution as Solution
    from .solution import Unserved as Unserved
    from .solution import Visit as Visit
    from .solver import solve as solve


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
