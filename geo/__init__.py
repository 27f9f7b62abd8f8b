"""binroute's road model: OSM graphs, snapping, travel matrices and GeoJSON.

Knows graphs and geometry; never the solver.
"""

from .errors import FarFromRoadWarning as FarFromRoadWarning
from .errors import NetworkError as NetworkError
from .errors import OutsideNetworkWarning as OutsideNetworkWarning
from .errors import SnapError as SnapError
from .exports import PALETTE as PALETTE
from .exports import to_gpx as to_gpx
from .exports import vehicle_collection as vehicle_collection
from .exports import vehicle_collections as vehicle_collections
from .exports import write_geopackage as write_geopackage
from .exports import write_png as write_png
from .geojson import OSM_ATTRIBUTION as OSM_ATTRIBUTION
from .geojson import feature_collection as feature_collection
from .geojson import line_feature as line_feature
from .geojson import line_through as line_through
from .geojson import point_feature as point_feature
from .geojson import write_geojson as write_geojson
from .kerbside import KerbsideModel as KerbsideModel
from .kerbside import SlotLayout as SlotLayout
from .kerbside import StopPlaces as StopPlaces
from .kerbside import driving_side_for_timezone as driving_side_for_timezone
from .kerbside import illegal_turns as illegal_turns
from .kerbside import kerb_required as kerb_required
from .kerbside import kerbside_model as kerbside_model
from .kerbside import stop_places as stop_places
from .matrix import PathFinder as PathFinder
from .matrix import RoutingGraph as RoutingGraph
from .matrix import drivable_core as drivable_core
from .matrix import routing_graph as routing_graph
from .matrix import travel_matrices as travel_matrices
from .network import RoadNetwork as RoadNetwork
from .network import VehicleProfile as VehicleProfile
from .network import utm_crs as utm_crs
from .osm import OSM_SUFFIXES as OSM_SUFFIXES
from .osm import graph_from_file as graph_from_file
from .osm import graph_from_place as graph_from_place
from .osm import load_network as load_network
from .osm import network_from_place as network_from_place
from .snap import Snapped as Snapped
from .snap import snap_points as snap_points
from .territory import district_outlines as district_outlines
from .territory import territory_overlap as territory_overlap
from .turn_matrix import turn_matrices as turn_matrices
from .turn_matrix import turn_matrix_rows as turn_matrix_rows
from .turn_paths import Drive as Drive
from .turn_paths import TurnPathFinder as TurnPathFinder
from .turns import Places as Places
from .turns import TurnGraph as TurnGraph
from .turns import TurnRules as TurnRules
from .turns import core_edges as core_edges
from .turns import hierarchy_file as hierarchy_file
from .turns import turn_graph as turn_graph
from .turns import u_turn_pockets as u_turn_pockets
