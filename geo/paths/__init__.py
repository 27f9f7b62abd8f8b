"""Shortest-path kernels on flat arrays: contraction hierarchies and bucket-queue searches.

- :mod:`.ch`: building a contraction hierarchy;
- :mod:`.many_to_many`: the bucket many-to-many query on a hierarchy;
- :mod:`.cache`: a hierarchy kept on disk (file naming, save and load, builds given up);
- :mod:`.dial`: one-to-many searches with a bucket queue (Dial 1969);
- :mod:`.heap`: the indexed binary heap the compiled searches share;
- :mod:`.lock`: the process-wide lock around numba's thread pool.

These know arrays and graphs only, never the road model (:mod:`binroute.geo.turns`
says how a turn graph becomes one of these graphs).
"""

from .cache import HIERARCHY_CACHE_VERSION as HIERARCHY_CACHE_VERSION
from .cache import HierarchyStore as HierarchyStore
from .cache import cache_file as cache_file
from .cache import cached_hierarchy as cached_hierarchy
from .cache import load_hierarchy as load_hierarchy
from .cache import save_hierarchy as save_hierarchy
from .ch import Hierarchy as Hierarchy
from .ch import contract_graph as contract_graph
from .dial import bucket_dijkstra as bucket_dijkstra
from .dial import usable as usable
from .lock import PARALLEL_LOCK as PARALLEL_LOCK
from .many_to_many import Buckets as Buckets
from .many_to_many import scan_sources as scan_sources
from .many_to_many import target_buckets as target_buckets
