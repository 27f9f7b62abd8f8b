"""``python -m binroute.api.cli``: the same as the ``binroute`` command."""

from . import main

main()
