"""How commands talk to the terminal: progress on stderr, warnings as one line, bad input as one error."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from functools import wraps
from typing import Any

import click


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad input into one clear line on stderr and exit code 2; warnings become one line each."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..pipeline import USER_ERRORS

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """A warning as ``warning: <message>`` on stderr."""
    click.echo(f"warning: {message}", err=True)


def progress(msg: str) -> None:
    """One progress line on stderr."""
    click.echo(f"  {msg}", err=True)
