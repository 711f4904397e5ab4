"""The search space: Hydra sweeper-style expressions under `hydra.sweeper.params`, as Optuna distributions.

    optim.lr: tag(log, interval(1e-4, 1e-2))       -> FloatDistribution(log=True)
    scenario.alpha: interval(0.1, 10)               -> FloatDistribution (interval is always float)
    model.x.n_filters: int(interval(8, 64))         -> IntDistribution
    data.batch_size: choice(32, 64, 128)            -> CategoricalDistribution
    model.x.layers: choice([32, 32], [64, 32])      -> each list is one choice
    model.x.depth: range(1, 5)                      -> IntDistribution(1, 4) (stop excluded)
    data.stride_seconds: 0.1                        -> not searched: passed to every trial as is

Expressions are parsed by Hydra's own override parser, and integers versus floats follow
hydra-optuna-sweeper: `interval` is float unless cast with `int(...)`; `range` is integer unless a
bound or the step is a float. Anything else (glob, tags other than `log`, `~key`) is a ConfigError
that names the key and the text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    ValueType,
)
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from har.errors import ConfigError
from har.launch.overrides import format_value

SUPPORTED_TAGS = frozenset({"log"})
# Builds the ConfigError for one key (it already names the key, the file and the text).
Failure = Callable[[str], ConfigError]
_PRIMITIVES = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class SearchParam:
    """One searched key: its Optuna distribution and, for choices, each choice's override text."""

    key: str
    expression: str
    distribution: BaseDistribution
    # Optuna stores only primitives, so a list choice is stored as its override text; this maps
    # each stored choice back to the exact text the trial receives.
    choice_texts: tuple[str, ...] | None = None

    def override_text(self, value: Any) -> str:
        if self.choice_texts is not None:
            assert isinstance(self.distribution, CategoricalDistribution)
            return self.choice_texts[self.distribution.choices.index(value)]
        return format_value(value)


@dataclass(frozen=True)
class SearchSpace:
    params: dict[str, SearchParam]
    # Keys the YAML sets to a plain value: forwarded to every trial, never searched.
    fixed: dict[str, str] = field(default_factory=dict)
    source: str = "<inline>"

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {key: param.distribution for key, param in self.params.items()}

    def overrides_for(self, values: Mapping[str, Any]) -> list[str]:
        """`key=text` tokens for sampled values (the study's `trial.params`)."""
        return [f"{key}={self.params[key].override_text(values[key])}" for key in self.params]

    def without(self, keys: Iterable[str]) -> SearchSpace:
        """This space with `keys` pinned elsewhere (e.g. by `--fix-from`): neither searched nor fixed."""
        dropped = set(keys)
        return SearchSpace(
            params={k: p for k, p in self.params.items() if k not in dropped},
            fixed={k: t for k, t in self.fixed.items() if k not in dropped},
            source=self.source,
        )


def load_space(path: Path) -> SearchSpace:
    """Parse `hydra.sweeper.params` of a sweeper-style YAML file."""
    if not path.is_file():
        raise ConfigError(f"search space file {path} does not exist")
    try:
        document = OmegaConf.load(path)
    except Exception as error:  # YAML syntax errors come in many types
        raise ConfigError(f"search space file {path} is not valid YAML: {error}") from error
    params = (
        OmegaConf.select(document, "hydra.sweeper.params")
        if isinstance(document, DictConfig)
        else None
    )
    if not isinstance(params, DictConfig) or len(params) == 0:
        raise ConfigError(
            f"search space file {path} has no `hydra.sweeper.params` mapping of dotted keys to "
            "expressions such as `optim.lr: tag(log, interval(1e-4, 1e-2))`"
        )
    raw = OmegaConf.to_container(params, resolve=False)
    assert isinstance(raw, dict)
    return parse_space(raw, source=str(path))


def parse_space(raw: Mapping[Any, Any], source: str = "<inline>") -> SearchSpace:
    params: dict[str, SearchParam] = {}
    fixed: dict[str, str] = {}
    for key, expression in raw.items():
        parsed = parse_param(str(key), expression, source=source)
        if isinstance(parsed, SearchParam):
            params[parsed.key] = parsed
        else:
            fixed[str(key)] = parsed
    return SearchSpace(params=params, fixed=fixed, source=source)


def parse_param(key: str, expression: Any, source: str = "<inline>") -> SearchParam | str:
    """A SearchParam for a sweep expression, or the override text of a plain (fixed) value."""

    def fail(reason: str) -> ConfigError:
        return ConfigError(f"{source}: hydra.sweeper.params.{key}: {expression!r}: {reason}")

    if isinstance(expression, Mapping | list):
        raise fail("write one expression per dotted key, e.g. choice([32, 32], [64, 32])")
    if not isinstance(expression, str):
        return format_value(expression)  # a YAML number / bool / null: fixed
    try:
        parsed = OverridesParser.create().parse_override(f"{key}={expression}")
    except Exception as error:  # OverrideParseException, or ValueError from grammar functions
        raise fail(f"not a Hydra sweep expression ({_first_line(error)})") from error
    if parsed.is_delete():
        raise fail("deleting a key (~) cannot be searched")
    if not parsed.is_sweep_override():
        return expression.strip()
    value = parsed.value()
    if parsed.value_type == ValueType.GLOB_CHOICE_SWEEP:
        raise fail("glob(...) is not supported; list the options with choice(...)")
    unknown_tags = set(getattr(value, "tags", set())) - SUPPORTED_TAGS
    if unknown_tags:
        raise fail(f"unsupported tag(s) {sorted(unknown_tags)}; only tag(log, ...) is understood")
    if isinstance(value, IntervalSweep):
        distribution = _interval_distribution(value, fail)
        return SearchParam(key=key, expression=expression, distribution=distribution)
    if isinstance(value, RangeSweep):
        distribution = _range_distribution(value, fail)
        return SearchParam(key=key, expression=expression, distribution=distribution)
    if isinstance(value, ChoiceSweep):
        return _choice_param(key, expression, value, fail)
    raise fail(f"unsupported sweep type {parsed.value_type}")


def _interval_distribution(value: IntervalSweep, fail: Failure) -> BaseDistribution:
    log = "log" in value.tags
    low, high = value.start, value.end
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        raise fail("an interval needs finite bounds")
    if not low < high:
        raise fail("an interval needs start < end")
    if log and low <= 0:
        raise fail("a log interval needs start > 0")
    # Hydra's `interval` yields floats; only an explicit int(...) cast makes an integer parameter.
    if isinstance(low, int) and isinstance(high, int):
        return IntDistribution(low, high, log=log)
    return FloatDistribution(float(low), float(high), log=log)


def _range_distribution(value: RangeSweep, fail: Failure) -> BaseDistribution:
    if "log" in value.tags:
        raise fail("tag(log, ...) works on interval(...), not on a stepped range")
    bounds = (value.start, value.stop, value.step)
    if any(b is None or not math.isfinite(b) for b in bounds) or value.step == 0:
        raise fail("a range needs finite start, stop and a non-zero step")
    start, stop, step = bounds
    if all(isinstance(b, int) for b in bounds):
        integers = range(int(start), int(stop), int(step))  # never listed: it may be huge
        if len(integers) == 0:
            raise fail("the range is empty (stop is excluded, as in Python's range)")
        low, high = sorted((integers[0], integers[-1]))
        return IntDistribution(low, high, step=abs(int(step)))
    # Decimal arithmetic on the written numbers, so range(0.1, 0.5, 0.1) ends at 0.4, not 0.5.
    first, end, stride = (Decimal(repr(float(b))) for b in bounds)
    count = math.ceil((end - first) / stride)
    if count <= 0:
        raise fail("the range is empty (stop is excluded, as in Python's range)")
    last = first + (count - 1) * stride
    low, high = sorted((float(first), float(last)))
    return FloatDistribution(low, high, step=abs(float(stride)))


def _choice_param(key: str, expression: str, value: ChoiceSweep, fail: Failure) -> SearchParam:
    choices: list[Any] = []
    texts: list[str] = []
    for element in value.list:
        plain = Override._convert_value(element)  # quoted strings -> str, nested lists kept
        if isinstance(plain, _PRIMITIVES):
            stored = plain
            text = format_value(plain)
        else:
            # A list or dict is one choice; Optuna stores it as the override text.
            text = format_value(plain)
            stored = text
        if any(_same_choice(stored, earlier) for earlier in choices):
            raise fail(f"choice {text} is listed twice (1, 1.0 and true count as the same)")
        choices.append(stored)
        texts.append(text)
    if not choices:
        raise fail("an empty choice")
    return SearchParam(
        key=key,
        expression=expression,
        distribution=CategoricalDistribution(choices),
        choice_texts=tuple(texts),
    )


def _same_choice(a: Any, b: Any) -> bool:
    # Optuna finds a choice by `==`, under which 1 == 1.0 == True; such choices would be confused.
    return a == b


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def representative_overrides(space: SearchSpace) -> list[str]:
    """One legal value per searched key (first choice, lower bound), to compose a trial with."""
    values: dict[str, Any] = {}
    for key, param in space.params.items():
        distribution = param.distribution
        if isinstance(distribution, CategoricalDistribution):
            values[key] = distribution.choices[0]
        elif isinstance(distribution, FloatDistribution | IntDistribution):
            values[key] = distribution.low
    return space.overrides_for(values)
