"""The ``binroute`` command line (click); ``main`` is the console script's entry point.

Commands: ``plan`` (:mod:`.planning`), ``forecast`` and ``backtest``
(:mod:`.forecasting`), ``vrplib`` and ``kim`` (:mod:`.instances`), ``serve``,
``worker``, ``db``, ``orgs`` and ``keys`` (:mod:`.server`), ``simulate``
(:mod:`.simulate`), ``replan`` (:mod:`.replan`). Shared pieces: the solver flags
(:mod:`.flags`) and terminal output (:mod:`.console`).
"""

from __future__ import annotations

import click

from binroute import __version__

from .forecasting import backtest, forecast
from .instances import kim, vrplib
from .planning import plan
from .replan import replan
from .server import db, keys, orgs, serve, worker
from .simulate import simulate_command

__all__ = ["main"]


@click.group()
@click.version_option(version=__version__, prog_name="binroute")
def main() -> None:
    """binroute: plan waste-collection rounds from OSM roads and bin sensors."""


for _command in (plan, forecast, backtest, vrplib, kim, serve, worker, db, orgs, keys):
    main.add_command(_command)
main.add_command(simulate_command, name="simulate")
main.add_command(replan)
