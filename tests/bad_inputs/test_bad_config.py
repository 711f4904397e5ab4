"""Part 2 of issue 5: configuration values that cannot work fail before training, naming the key.

Each case runs the library's whole trial (``run_trial``) on the tiny tree and checks what the
entrypoint would print (``user_error_of``), that no training happened (no checkpoint) and that
results.json says ``failed`` with the same message. Hydra's own errors (unknown config group
option or key) only exist at the entrypoint: test_entrypoint.py.
"""

from __future__ import annotations

import json

import pytest

from har.training.trial import run_trial
from tests.bad_inputs.entrypoint import assert_user_error, tiny_overrides, user_error_of
from tests.conftest import compose_config
from tests.data.mmfit_writer import write_tiny_dataset

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("bad_inputs.test_bad_config")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_config") / "raw"
    write_tiny_dataset(root)
    return root


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("optim.lr=-0.001", ["optim.lr", "must be > 0", "-0.001"]),
        ("optim.lr=abc", ["optim.lr", "must be a number", "'abc'"]),
        (
            "model.regressor.sequence_length=64",
            [
                "model.regressor.sequence_length: 64",
                "receptive field",
                "data.sensor_window_length=32",
            ],
        ),
        (
            "model.feature_extractor.n_conv=6",
            ["data.sensor_window_length=32", "pooling stack", "n_conv"],
        ),
        ("data.n_classes=5", ["data.n_classes", "is 5", "11 classes"]),
        ("data.joints=[14,15,17]", ["data.joints", "[14, 15, 17]", "0..16"]),
        ("data.root_joint=-1", ["data.root_joint", "-1", ">= 0"]),
        ("data.cache_dir=${oc.env:HAR_TEST_UNSET_VARIABLE}", ["HAR_TEST_UNSET_VARIABLE"]),
    ],
    ids=[
        "negative-lr",
        "lr-not-a-number",
        "window-below-receptive-field",
        "window-below-pooling-stack",
        "n-classes",
        "joint-out-of-range",
        "root-joint-negative",
        "broken-interpolation",
    ],
)
def test_value_that_cannot_work_fails_before_training_naming_the_key(
    raw, tmp_path, override, words
):
    cfg = compose_config([*tiny_overrides(raw, tmp_path / "cache"), override])
    run_dir = tmp_path / "run"
    line = assert_user_error(user_error_of(lambda: run_trial(cfg, run_dir)), *words)
    assert not (run_dir / "checkpoints").exists()  # nothing was trained
    if (run_dir / "results.json").exists():  # (a broken interpolation stops before it is made)
        results = json.loads((run_dir / "results.json").read_text())
        assert results["status"] == "failed" and results["error"].endswith(line[len("error: ") :])
        assert results["history"].get("epoch", []) == []
    else:
        assert override.startswith("data.cache_dir=${oc.env")
