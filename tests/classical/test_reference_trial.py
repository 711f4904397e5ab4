"""model=features_gbm through the one trial path: DataModule windows in, results.json and tables out."""

from __future__ import annotations

import numpy as np

from har.classical.fit import fit_and_predict
from har.classical.window_arrays import WindowSplit
from har.data.with_secondary import build_datamodule
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


def test_virtual_imu_fits_the_reference_on_real_and_simulated_windows(tmp_path, twin_overrides):
    # Stage 1 calibrates the physics R on participant 0's IMU; stage 2 simulates every training
    # window (both people) and fits the boosted features on real + virtual windows.
    cfg = compose_config(
        [*twin_overrides, *TWO_PEOPLE, "scenario=virtual_imu", "model/regressor=physics",
         "data.imu_subjects=[0]", "trainer.epochs=1", "scenario.virtual_weight=0.5"]
    )  # fmt: skip
    payload = run_trial(cfg, tmp_path / "virtual")

    assert payload["status"] == "completed", payload["error"]
    final = payload["final_metrics"]
    assert {"stage1_test_mse", "stage1_test_pearson_x"} <= set(final) and 0 < final["test_f1"] <= 1
    assert payload["stage1"]["checkpoint"] and payload["classical"]["boosting_iterations"] <= 20
    data = payload["data"]
    virtual, real = data["windows_used"]["train_virtual"], data["windows_used"]["train"]
    assert virtual == sum(data["window_counts"]["train"])  # every training window, simulated
    assert 0 < real < virtual  # ... beside participant 0's real windows only


class _Recorder:
    """An estimator that keeps what it was fitted on."""

    def fit(self, train, val, signal):
        self.train = train
        return {}

    def predict(self, x):
        return np.zeros(len(x), dtype=np.int64)


def test_virtual_windows_join_the_real_ones_with_their_weight(tmp_path, twin_overrides):
    cfg = compose_config([*twin_overrides, *TWO_PEOPLE])
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    virtual = WindowSplit(x=np.zeros((3, 3, 256), np.float32), y=np.array([1, 2, 3]))
    recorder = _Recorder()
    outcome = fit_and_predict(recorder, datamodule, virtual, virtual_weight=0.25)
    real = outcome.window_counts["train"]
    assert outcome.window_counts["train_virtual"] == 3 and len(recorder.train.y) == real + 3
    assert recorder.train.weight.tolist() == [1.0] * real + [0.25] * 3
    assert recorder.train.y[-3:].tolist() == [1, 2, 3]
