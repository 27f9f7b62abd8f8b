"""Exceptions and warnings raised by :mod:`routing`."""


class ProblemError(ValueError):
    """A routing problem is inconsistent (bad index, negative demand, ...)."""


class InfeasibleProblem(ValueError):
    """No plan can satisfy the hard constraints; the message says which ones."""


class ForecastError(ValueError):
    """Sensor readings cannot be used for a forecast."""


class ForecastWarning(UserWarning):
    """Readings were repaired or a bin had too little history to trust alone."""
