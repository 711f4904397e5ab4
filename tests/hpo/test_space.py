"""The search-space grammar: Hydra sweeper expressions -> Optuna distributions (and back to overrides)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from har.errors import ConfigError
from har.hpo.space import SearchParam, load_space, parse_param, parse_space


def dist(expression: str):
    param = parse_param("a.b", expression)
    assert isinstance(param, SearchParam)
    return param.distribution


def reparsed(token: str):
    """What Hydra hands the trial for `token`."""
    return OverridesParser.create().parse_override(token).value()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("interval(0.1, 2)", FloatDistribution(0.1, 2.0)),
        ("interval(1, 10)", FloatDistribution(1.0, 10.0)),  # Hydra: interval is always float
        ("int(interval(1, 10))", IntDistribution(1, 10)),
        ("tag(log, interval(1e-4, 1e-2))", FloatDistribution(1e-4, 1e-2, log=True)),
        ("tag(log, int(interval(8, 64)))", IntDistribution(8, 64, log=True)),
        ("range(1, 5)", IntDistribution(1, 4)),  # stop excluded, as in Python
        ("range(0, 10, 3)", IntDistribution(0, 9, step=3)),
        ("range(10, 0, -2)", IntDistribution(2, 10, step=2)),
        ("range(0.0, 1.0, 0.25)", FloatDistribution(0.0, 0.75, step=0.25)),
        ("range(0.1, 0.5, 0.1)", FloatDistribution(0.1, 0.4, step=0.1)),
        ("range(0, 1000000000000)", IntDistribution(0, 999999999999)),  # not materialised
        ("choice(32, 64, 128)", CategoricalDistribution([32, 64, 128])),
        ("32, 64", CategoricalDistribution([32, 64])),  # Hydra's short choice form
        ("choice(adam, sgd)", CategoricalDistribution(["adam", "sgd"])),
        ("choice(true, false)", CategoricalDistribution([True, False])),
        ("choice([32, 32], [64, 32])", CategoricalDistribution(["[32,32]", "[64,32]"])),
    ],
)
def test_expressions_become_the_sweepers_distributions(expression: str, expected) -> None:
    assert dist(expression) == expected


def test_list_choices_are_passed_to_trials_as_lists() -> None:
    param = parse_param("model.layers", "choice([32, 32], [64, 32])")
    assert isinstance(param, SearchParam)
    assert reparsed(f"model.layers={param.override_text('[64,32]')}") == [64, 32]


def test_plain_values_are_fixed_overrides_not_searched() -> None:
    space = parse_space({"a": "choice(1, 2)", "data.stride_seconds": 0.1, "scenario.name": "sc2"})
    assert set(space.params) == {"a"}
    assert space.fixed == {"data.stride_seconds": "0.1", "scenario.name": "sc2"}


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("glob(*)", "glob"),
        ("tag(int, interval(0, 1))", "tag"),
        ("interval(a, b)", "not a Hydra sweep"),
        ("interval(2, 1)", "start < end"),
        ("tag(log, interval(0, 1))", "start > 0"),
        ("tag(log, range(1, 5))", "interval"),
        ("range(5, 1)", "empty"),
        ("choice()", "empty choice"),
        ("choice(1, 1.0)", "twice"),
        ("uniform(0, 1)", "not a Hydra sweep"),
        ("choice(1, 2", "not a Hydra sweep"),
    ],
)
def test_unsupported_expressions_name_the_key_and_the_text(expression: str, says: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_param("optim.lr", expression)
    message = str(error.value)
    assert "optim.lr" in message and expression in message and says in message


def test_nested_mapping_in_the_yaml_is_rejected_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="dotted key"):
        parse_space({"optim": {"lr": "interval(0, 1)"}})


def test_load_space_reads_hydra_sweeper_params(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "hydra:\n  sweeper:\n    params:\n      optim.lr: tag(log, interval(1e-4, 1e-2))\n"
    )
    assert set(load_space(path).params) == {"optim.lr"}
    (tmp_path / "empty.yaml").write_text("hydra: {}\n")
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.params"):
        load_space(tmp_path / "empty.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_space(tmp_path / "missing.yaml")


# --- properties --------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False)


@given(finite, finite)
def test_any_interval_is_a_float_distribution_with_the_same_bounds(a: float, b: float) -> None:
    assume(a < b)
    d = dist(f"interval({a!r}, {b!r})")
    assert d == FloatDistribution(a, b)


@given(positive, positive)
def test_any_positive_log_interval_is_log_float(a: float, b: float) -> None:
    assume(a < b)
    assert dist(f"tag(log, interval({a!r}, {b!r}))") == FloatDistribution(a, b, log=True)


@given(
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
    st.integers(-50, 50).filter(lambda s: s != 0),
)
def test_an_integer_range_samples_exactly_pythons_range(start: int, stop: int, step: int) -> None:
    values = list(range(start, stop, step))
    if not values:
        with pytest.raises(ConfigError, match="empty"):
            parse_param("k", f"range({start}, {stop}, {step})")
        return
    d = dist(f"range({start}, {stop}, {step})")
    assert isinstance(d, IntDistribution)
    assert (d.low, d.high, d.step) == (min(values), max(values), abs(step))


choice_values = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
    st.lists(st.integers(1, 512), min_size=1, max_size=4),
)


def _distinct(values: list) -> bool:
    seen: list = []
    for v in values:
        if any(v == s for s in seen):
            return False
        seen.append(v)
    return True


@settings(max_examples=150, deadline=None)
@given(st.lists(choice_values, min_size=1, max_size=6).filter(_distinct))
def test_every_choice_reaches_the_trial_as_exactly_the_value_written(values: list) -> None:
    from har.launch.overrides import format_value

    expression = "choice(" + ", ".join(format_value(v) for v in values) + ")"
    param = parse_param("k", expression)
    assert isinstance(param, SearchParam)
    assert len(param.distribution.choices) == len(values)
    for stored, original in zip(param.distribution.choices, values, strict=True):
        value = reparsed(f"k={param.override_text(stored)}")
        assert value == original and type(value) is type(original)


@settings(max_examples=60, deadline=None)
@given(finite, finite, st.integers(0, 2**31 - 1))
def test_sampled_values_stay_in_bounds_and_read_back_exactly(a: float, b: float, seed: int) -> None:
    assume(a < b)
    space = parse_space({"x": f"interval({a!r}, {b!r})", "n": "int(interval(-5, 5))"})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask(fixed_distributions=space.distributions)
    assert a <= trial.params["x"] <= b and -5 <= trial.params["n"] <= 5
    tokens = dict(token.split("=", 1) for token in space.overrides_for(trial.params))
    assert reparsed(f"x={tokens['x']}") == trial.params["x"]
    assert reparsed(f"n={tokens['n']}") == trial.params["n"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_is_either_parsed_or_a_config_error(text: str) -> None:
    try:
        parse_param("some.key", text)
    except ConfigError as error:
        assert "some.key" in str(error)


@pytest.mark.parametrize("expression", ["interval(0, inf)", "interval(nan, 1)", "range(0, inf)"])
def test_infinite_or_nan_bounds_are_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match="finite"):
        parse_param("k", expression)
