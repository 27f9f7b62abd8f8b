"""Errors raised at binroute's edges (files and HTTP)."""


class ScenarioError(ValueError):
    """A scenario file is missing or has bad content; the message names file, line and field."""
