"""User-facing errors: the entrypoints print their message as one line and exit with code 2.

Every layer raises these; ``reports_user_errors`` (plain ``main(argv)`` tools) and the Hydra
entrypoint (``har.cli``) turn them into that line. Only entrypoints print.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from omegaconf.errors import OmegaConfBaseException


class HarError(Exception):
    """A problem the user can fix (bad file, bad config). The message names the file or key and the fix."""

    exit_code = 2


class DataError(HarError):
    """A raw or cached data file is missing, malformed or inconsistent."""


class ConfigError(HarError):
    """A configuration value cannot work (named by its dotted key)."""


def reports_user_errors(main: Callable[..., int] | None = None, *, prog: str | None = None) -> Any:
    """Decorate a plain ``main(argv) -> exit code`` (the ``python -m har...`` tools and the
    non-Hydra entrypoints): a user error becomes its one line on stderr (prefixed ``prog: `` when
    given) and its exit code; a crash keeps its traceback. Use bare or as
    ``@reports_user_errors(prog="run_hpo")``."""

    def decorate(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def wrapped(*args: object, **kwargs: object) -> int:
            try:
                return main(*args, **kwargs)
            except Exception as error:
                user_error = as_user_error(error)
                if user_error is None:
                    raise
                print(error_line(user_error, prog), file=sys.stderr)
                return user_error.exit_code

        return wrapped

    return decorate if main is None else decorate(main)


def as_user_error(error: BaseException) -> HarError | None:
    """The user error behind ``error``, or None for a crash.

    Hydra's ``instantiate`` wraps what a constructor raises in an InstantiationException, so the
    cause chain is searched; an OmegaConf error (missing value, broken interpolation) is a config
    error too.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, HarError):
            return seen
        if isinstance(seen, OmegaConfBaseException):
            return ConfigError(one_line(str(seen)))
        seen = seen.__cause__
    return None


def one_line(message: str) -> str:
    return " ".join(message.split())


def error_line(error: HarError, prog: str | None = None) -> str:
    """What the user sees on stderr for a user error: one line, naming the file or key and the fix."""
    return f"{prog + ': ' if prog else ''}error: {one_line(str(error))}"
