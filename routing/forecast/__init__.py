"""Fill forecasting: from sensor readings or collection logs to must/may/skip per bin.

The chain, in the order data flows through it:

- :mod:`.fill_data`: the inputs as councils hold them (readings, collection
  logs), cleaned, with each bin's data shape (``dense``, ``coarse``, ``log``);
- :mod:`.fill_models` and :mod:`.weekday`: the candidate fill models;
- :mod:`.model_choice`: each bin's model chosen from its own past, intervals calibrated;
- :mod:`.blend`: the chosen model combined with the naive forecasts, weights learnt from the past;
- :mod:`.model`: :func:`fit_fill_model`, the fitted :class:`FillModel`;
- :mod:`.decide`: the collect rule (:func:`decide`, :class:`DecisionRules`);
- :mod:`.backtest`: the rolling-origin backtest of forecasts and decisions.

Shares nothing with the routing side but :mod:`binroute.routing.errors`.
"""

from .backtest import NAIVE as NAIVE
from .backtest import RULES as RULES
from .backtest import BacktestResult as BacktestResult
from .backtest import backtest as backtest
from .backtest import best_naive as best_naive
from .decide import MAY as MAY
from .decide import MUST as MUST
from .decide import SKIP as SKIP
from .decide import Decision as Decision
from .decide import DecisionRules as DecisionRules
from .decide import StreamDensity as StreamDensity
from .decide import decide as decide
from .decide import demand_of as demand_of
from .fill_data import EMPTYING_DROP_PCT as EMPTYING_DROP_PCT
from .fill_data import clean_readings as clean_readings
from .fill_data import mark_emptyings as mark_emptyings
from .fill_models import CANDIDATES as CANDIDATES
from .model import BinFit as BinFit
from .model import FillModel as FillModel
from .model import fit_fill_model as fit_fill_model
