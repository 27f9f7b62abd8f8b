"""Very large days: one district per crew, routed on both cores, then improved across borders.

- :mod:`.districts`: bins clustered by geography into districts of a day's work each;
- :mod:`.day`: a day split into district subproblems and merged back (:func:`subproblems`);
- :mod:`.borders`: neighbouring rounds re-solved two at a time across their border;
- :mod:`.priced`: a small day searched whole from its districts, a bin of another's district at a price.
"""

from . import borders as borders
from . import day as day
from . import districts as districts
from . import priced as priced
from .day import DECOMPOSE_MIN_BINS as DECOMPOSE_MIN_BINS
from .day import Part as Part
from .day import subproblems as subproblems
from .districts import District as District
