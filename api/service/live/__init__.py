"""The live day: crew tokens (:mod:`.tokens`), the crews' events (:mod:`.events`), the day as it stands
(:mod:`.day`) and re-planning the rest of it (:mod:`.replan`).

The HTTP side is :mod:`binroute.api.service.blueprints.live`; these modules hold
what it does, so the CLI and the benchmark reach the same code.
"""
