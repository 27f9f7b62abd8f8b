"""binroute's road model: OSM graphs, snapping, travel matrices and GeoJSON.

Knows graphs and geometry; never the solver.
"""

from .errors import FarFromRoadWarning as FarFromRoadWarning
from .errors import NetworkError as NetworkError
from .errors import OutsideNetworkWarning as OutsideNetworkWarning
from .errors import SnapError as SnapError
from .geojson import OSM_ATTRIBUTION as OSM_ATTRIBUTION
from .kerbside import StopPlaces as StopPlaces
from .kerbside import kerb_required as kerb_required
from .kerbside import stop_places as stop_places
from .matrix import PathFinder as PathFinder
from .matrix import RoutingGraph as RoutingGraph
from .matrix import drivable_core as drivable_core
from .matrix import routing_graph as routing_graph
from .matrix import travel_matrices as travel_matrices
from .network import RoadNetwork as RoadNetwork
from .network import VehicleProfile as VehicleProfile
from .osm import OSM_SUFFIXES as OSM_SUFFIXES
from .osm import graph_from_file as graph_from_file
from .osm import graph_from_place as graph_from_place
from .osm import load_network as load_network
from .osm import network_from_place as network_from_place
from .snap import Snapped as Snapped
from .snap import snap_points as snap_points
from .turns import Places as Places
from .turns import TurnGraph as TurnGraph
from .turns import TurnPathFinder as TurnPathFinder
from .turns import TurnRules as TurnRules
from .turns import core_edges as core_edges
from .turns import turn_graph as turn_graph
from .turns import turn_matrices as turn_matrices
