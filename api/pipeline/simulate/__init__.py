"""Simulating collection policies over past days, planned with the real pipeline.

- :mod:`.policies`: the policies a council might run (``predictive``, timetables, thresholds);
- :mod:`.replay`: each bin's real waste replayed, emptied when a policy says;
- :mod:`.run`: the day-by-day simulation (:func:`simulate`);
- :mod:`.verdict`: predictive against the best fixed timetable at the same service;
- :mod:`.report`: the printable ``report.html``.
"""

from .policies import AS_LOGGED as AS_LOGGED
from .policies import CLAIRVOYANT as CLAIRVOYANT
from .policies import PREDICTIVE as PREDICTIVE
from .policies import TIMETABLE as TIMETABLE
from .policies import WEEKDAYS as WEEKDAYS
from .policies import Policy as Policy
from .policies import PolicyError as PolicyError
from .policies import parse_policy as parse_policy
from .report import simulation_html as simulation_html
from .run import SimDateError as SimDateError
from .run import SimOptions as SimOptions
from .run import policies_from as policies_from
from .run import simulate as simulate
from .verdict import best_timetable as best_timetable
from .verdict import closest_timetable as closest_timetable
from .verdict import fewer as fewer
from .verdict import saving as saving
