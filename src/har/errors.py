"""User-facing errors: the entrypoints print their message as one line and exit with code 2."""

from __future__ import annotations


class HarError(Exception):
    """A problem the user can fix (bad file, bad config). The message names the file or key and the fix."""

    exit_code = 2


class DataError(HarError):
    """A raw or cached data file is missing, malformed or inconsistent."""


class ConfigError(HarError):
    """A configuration value cannot work (named by its dotted key)."""
