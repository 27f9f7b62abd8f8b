"""``python -m binroute.api.cli``: the same as the ``binroute`` command."""

from . import main

if __name__ == "__main__":  # not when a spawned process (serve's forecast processes) imports this module again
    main()
