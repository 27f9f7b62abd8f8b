"""binroute's edges, calling :mod:`geo` and :mod:`routing`, in three subpackages.

- :mod:`binroute.api.pipeline`: scenario files in, a plan out (the composition of geo and routing);
- :mod:`binroute.api.cli`: the ``binroute`` command line;
- :mod:`binroute.api.service`: the HTTP service (Flask app, storage, background solves).
"""
