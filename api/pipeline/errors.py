"""Errors raised at binroute's edges (files and HTTP), and the errors a user's input can cause."""

from binroute.geo import NetworkError, SnapError
from binroute.routing import ForecastError, InfeasibleProblem, ProblemError


class ScenarioError(ValueError):
    """A scenario file is missing or has bad content; the message names file, line and field."""


class RowError(ScenarioError):
    """A bad value in one row of a table: ``row`` (0-based) and ``field`` say where."""

    def __init__(self, message: str, *, row: int, field: str) -> None:
        super().__init__(message)
        self.row, self.field = row, field


#: Errors caused by the user's input: shown as one message, never a traceback.
USER_ERRORS = (ScenarioError, NetworkError, SnapError, ProblemError, InfeasibleProblem, ForecastError)
