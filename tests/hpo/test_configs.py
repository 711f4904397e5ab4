"""Every conf/hpo space parses, and every key it searches exists in the real trial config."""

from __future__ import annotations

from pathlib import Path

import pytest

from har.hpo.space import load_space, representative_overrides
from har.launch.preflight import compose_trial_config

REPO = Path(__file__).resolve().parents[2]
SPACES = sorted((REPO / "conf" / "hpo").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_space_parses_and_composes_with_the_trial_config(path: Path) -> None:
    space = load_space(path)
    assert space.params
    compose_trial_config(REPO, representative_overrides(space) + list(space.fixed.values()), "test")


def test_scenario2_space_searches_the_documented_knobs() -> None:
    space = load_space(REPO / "conf" / "hpo" / "scenario2_mmfit.yaml")
    assert set(space.params) == {
        "data.sensor_window_length",
        "optim.lr",
        "optim.weight_decay",
        "scenario.alpha",
        "scenario.beta",
        "model.feature_extractor.n_filters",
        "model.feature_extractor.filter_size",
        "data.batch_size",
    }
    assert space.params["optim.lr"].distribution.log
    assert space.params["optim.weight_decay"].distribution.log


def test_the_three_passes_cover_the_full_space_without_overlap() -> None:
    passes = [load_space(p) for p in sorted((REPO / "conf" / "hpo").glob("scenario2_pass*.yaml"))]
    keys = [set(space.params) for space in passes]
    assert len(passes) == 3 and not (keys[0] & keys[1] or keys[1] & keys[2] or keys[0] & keys[2])
    full = set(load_space(REPO / "conf" / "hpo" / "scenario2_mmfit.yaml").params)
    assert full <= keys[0] | keys[1] | keys[2]
