"""model=features_gbm through the one trial path: DataModule windows in, results.json and tables out."""

from __future__ import annotations

from har.reporting import aggregate
from har.training.trial import run_trial
from tests.conftest import compose_config

TWO_PEOPLE = [  # w01: participant 0, w02: participant 1
    "data=mmfit_synth", "data.train_workouts=[w01,w02]", "data.val_workouts=[w14]",
    "data.test_workouts=[w09]", "data.stride_seconds=1.0", "trainer.threads=1",
    "trainer.plots=false", "scenario=real_only", "model=features_gbm",
    "model.estimator.max_iter=20",
]  # fmt: skip
REAL_PATH_KEYS = {"test_f1", "test_acc", "test_kappa", "best_val_f1", "val_f1_last", "epochs_run"}


def test_scarce_imu_trains_on_the_imu_subjects_windows_and_reports_like_a_neural_run(
    tmp_path, twin_overrides, capsys
):
    cfg = compose_config([*twin_overrides, *TWO_PEOPLE, "data.imu_subjects=[0]", "seed=4"])
    payload = run_trial(cfg, tmp_path / "gbm")

    assert payload["status"] == "completed"
    final = payload["final_metrics"]
    assert REAL_PATH_KEYS | {f"test_f1_class{i}" for i in range(11)} <= set(final)
    assert final["best_val_f1"] == final["val_f1"] and 0 < final["test_f1"] <= 1
    assert payload["classical"]["boosting_iterations"] <= 20
    assert payload["config"]["model"]["estimator"]["random_state"] == 4
    data = payload["data"]
    assert data["imu_subjects"] == [0]
    # only w01's windows train; val and test keep every window
    assert 0 < data["windows_used"]["train"] < sum(data["window_counts"]["train"])
    assert data["windows_used"]["test"] == sum(data["window_counts"]["test"])

    assert aggregate.main([str(tmp_path), "--by", "model", "--out", str(tmp_path / "t")]) == 0
    assert "| features_gbm | 1 |" in capsys.readouterr().out
