"""Exceptions and warnings raised by :mod:`geo`."""


class NetworkError(ValueError):
    """A road network file is missing, corrupt, empty or has no drivable roads."""


class SnapError(ValueError):
    """A point could not be placed on the road network."""


class FarFromRoadWarning(UserWarning):
    """Points lie farther from any drivable road than the configured distance."""


class OutsideNetworkWarning(UserWarning):
    """Points are nearest to roads that are cut off from the main network."""
