"""Writing Python values as Hydra command-line overrides, and reading keys back from them.

Every value the search hands to a trial goes through `format_value`, so a string that merely looks
like a number, a boolean or a path with spaces reaches the trial as exactly the value that was
sampled (Hydra would otherwise re-interpret it).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hydra.core.override_parser.types import Quote, QuotedString

# Unquoted Hydra strings that are safe: a start that no number has, then path-like characters.
_SAFE_UNQUOTED = re.compile(r"[A-Za-z_/][A-Za-z0-9_\-./]*\Z")
# Words Hydra's grammar reads as something other than a string, matched case-insensitively.
_HYDRA_KEYWORDS = {"true", "false", "null", "inf", "nan"}


def format_value(value: Any) -> str:
    """The override text for `value` (None, bool, int, float, str, or lists/dicts of those)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest text that reads back as the same double
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, Mapping):
        items = ",".join(f"{format_string(str(k))}:{format_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a Hydra override value")


def format_string(text: str) -> str:
    if _SAFE_UNQUOTED.match(text) and text.lower() not in _HYDRA_KEYWORDS:
        return text
    # Hydra's own quoting, so its escaping rules (backslashes before quotes) stay its business.
    return QuotedString(text=text, quote=Quote.single).with_quotes()


def override(key: str, value: Any) -> str:
    return f"{key}={format_value(value)}"


def override_key(token: str) -> str:
    """The config key an override token sets, without its `+`, `++` or `~` prefix."""
    key = token.split("=", 1)[0]
    return key.lstrip("+~")


def overrides_from_mapping(values: Mapping[str, str]) -> list[str]:
    """`key=text` tokens from a mapping of keys to already formatted override texts."""
    return [f"{key}={text}" for key, text in values.items()]


def shell_join(tokens: Iterable[str]) -> str:
    """One line a user can paste into a shell: brackets and quotes survive globbing and splitting."""
    return " ".join(shlex.quote(token) for token in tokens)


def find_key(tokens: Sequence[str], key: str) -> str | None:
    for token in tokens:
        if override_key(token) == key:
            return token
    return None
