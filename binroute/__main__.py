"""``python -m binroute``: the same as the ``binroute`` command."""

from binroute.api.cli import main

main()
