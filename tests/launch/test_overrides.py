"""Values written as Hydra overrides read back as the very same values."""

from __future__ import annotations

import shlex

from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import given, settings
from hypothesis import strategies as st

from har.launch.overrides import format_value, override_key, shell_join

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, width=64),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def read_back(text: str):
    return OverridesParser.create().parse_override(f"k={text}").value()


@settings(max_examples=300, deadline=None)
@given(values)
def test_format_value_round_trips_through_hydras_parser(value) -> None:
    assert read_back(format_value(value)) == value


def test_strings_that_look_like_other_types_stay_strings() -> None:
    for text in ["32", "1e-3", "true", "False", "null", "inf", "nan", "a b", "x=y", "", "${x}"]:
        assert read_back(format_value(text)) == text


def test_paths_stay_unquoted_when_safe() -> None:
    assert format_value("/tmp/out/trials/trial_3") == "/tmp/out/trials/trial_3"
    assert format_value(1e-05) == "1e-05"


def test_override_key_strips_prefixes() -> None:
    assert override_key("+model.x=1") == "model.x"
    assert override_key("++a.b=[1,2]") == "a.b"
    assert override_key("data=mmfit_debug") == "data"


def test_shell_join_survives_a_shell() -> None:
    tokens = ["optim.lr=0.001", "model.layers=[64,32]", "name='a b'"]
    assert shlex.split(shell_join(tokens)) == tokens
