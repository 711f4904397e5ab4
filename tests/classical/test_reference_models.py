"""The reference classifiers: scored exactly like the neural models, seeded, configured from conf/."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score
from threadpoolctl import threadpool_limits

from har.classical.features_gbm import FeaturesGBM
from har.classical.window_arrays import SignalInfo, WindowSplit
from har.errors import ConfigError
from har.training.metrics import StageMetrics
from har.training.validate import validate_config
from tests.conftest import compose_config

RATE = 50.0


@pytest.fixture(autouse=True)
def one_thread():
    """OpenMP pools as wide as a shared machine's cores spin against each other (10x slower)."""
    with threadpool_limits(1):
        yield


def toy_windows(n: int, seed: int, classes: int = 3, length: int = 100) -> WindowSplit:
    """Class c oscillates at (c + 1) Hz on axis 0, in noise (standardised units)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    t = np.arange(length) / RATE
    x = rng.normal(scale=1.0, size=(n, 3, length))
    x[:, 0] += np.sin(2 * np.pi * (y[:, None] + 1) * t + rng.uniform(0, 6, (n, 1)))
    return WindowSplit(x=x.astype(np.float32), y=y.astype(np.int64))


SIGNAL = SignalInfo(rate_hz=RATE, mean=np.array([0.0, 0.0, 9.81]), std=np.array([2.0, 2.0, 2.0]))


def test_predictions_are_scored_as_the_neural_path_scores_logits_and_as_scikit_learn_does():
    rng = np.random.default_rng(1)
    n_classes = 5
    label = rng.integers(0, n_classes - 1, 300)  # class 4 never occurs: nor is it predicted
    pred = np.where(rng.random(300) < 0.7, label, rng.integers(0, n_classes - 1, 300))
    from_predictions, from_logits = StageMetrics(n_classes, 3), StageMetrics(n_classes, 3)
    from_predictions.update_real(torch.from_numpy(pred), torch.from_numpy(label))
    logits = torch.nn.functional.one_hot(torch.from_numpy(pred), n_classes).float()
    from_logits.update_real(logits + 0.1 * torch.rand(logits.shape), torch.from_numpy(label))
    classical, neural = from_predictions.compute("test"), from_logits.compute("test")
    assert classical == neural
    assert classical["test_f1"] == pytest.approx(f1_score(label, pred, average="macro"))
    assert classical["test_acc"] == pytest.approx(accuracy_score(label, pred))
    assert classical["test_kappa"] == pytest.approx(cohen_kappa_score(label, pred), abs=1e-6)
    per_class = f1_score(label, pred, average=None, labels=range(n_classes - 1))
    for i, value in enumerate(per_class):
        assert classical[f"test_f1_class{i}"] == pytest.approx(value)


def gbm(seed: int, **kwargs) -> FeaturesGBM:
    settings = {"max_iter": 30, "max_features": 0.3, "random_state": seed, **kwargs}
    return FeaturesGBM(
        autocorr_lags_s=(0.1,), bands_hz=((0, 1.5), (1.5, 2.5), (2.5, 5)), **settings
    )


def test_features_gbm_learns_stops_on_validation_and_its_seed_changes_the_model():
    train, val, test = toy_windows(300, 0), toy_windows(150, 1), toy_windows(150, 2)
    fitted = {}
    for seed in (0, 0, 1):
        model = gbm(seed)
        info = model.fit(train, val, SIGNAL)
        fitted.setdefault(seed, []).append(model.gbm.predict_proba(model._features(test.x)))
    assert info["boosting_iterations"] <= 30 and info["best_val_loss"] > 0
    assert len(model.gbm.validation_score_) == info["boosting_iterations"] + 1  # on our val split
    assert (model.predict(test.x) == test.y).mean() > 0.8
    assert np.array_equal(fitted[0][0], fitted[0][1])  # a seed reproduces
    assert not np.allclose(fitted[0][0], fitted[1][0])  # another seed differs


def test_features_are_computed_in_physical_units():
    model = gbm(0)
    model._signal = SIGNAL
    features = model.features.transform(SIGNAL.physical(toy_windows(4, 0).x), RATE)
    assert np.array_equal(model._features(toy_windows(4, 0).x), features)
    mean_z = model.features.names.index("ch2_mean")
    assert features[:, mean_z] == pytest.approx(9.81, abs=2.0)


def test_the_model_configs_reach_the_estimators():
    cfg = compose_config(["model=features_gbm", "scenario=real_only", "seed=7",
                          "model.estimator.max_features=0.25", "model.estimator.max_iter=9",
                          "model.estimator.autocorr_lags_s=[0.2]"])  # fmt: skip
    built = instantiate(cfg.model.estimator)
    params = built.gbm.get_params()
    for key, value in cfg.model.estimator.items():
        if key in params:
            assert params[key] == value, key
    assert params["random_state"] == 7 and params["max_features"] == 0.25
    assert built.features.autocorr_lags_s == (0.2,)
    assert built.features.bands_hz == tuple(map(tuple, cfg.model.estimator.bands_hz))

    cfg = compose_config(["model=minirocket", "scenario=real_only", "seed=3",
                          "model.estimator.num_kernels=168", "model.estimator.alphas=[0.5,2.0]",
                          "model.estimator.classifier=logistic", "model.estimator.logistic_cs=[0.1]",
                          "model.estimator.logistic_max_iter=7"])  # fmt: skip
    built = instantiate(cfg.model.estimator)
    params = built.transform.get_params()
    assert params["num_kernels"] == 168 and params["random_state"] == 3
    assert params["max_dilations_per_kernel"] == cfg.model.estimator.max_dilations_per_kernel
    assert params["n_jobs"] == cfg.model.estimator.n_jobs
    assert list(built.alphas) == [0.5, 2.0] and built.classifier_choice == "logistic"
    assert built.logistic_cs == (0.1,) and built.logistic_max_iter == 7


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=features_gbm"], "add scenario=real_only"),
        (["model=minirocket", "scenario=no_mse"], "add scenario=real_only"),
        (["model=features_gbm", "scenario=real_only", "model.kind=forest"], "model.kind"),
        (
            ["model=features_gbm", "scenario=real_only", "model.estimator.bands_hz=[[3,1]]"],
            "bands_hz",
        ),
    ],
)
def test_configurations_that_cannot_work_are_refused_before_any_data(overrides, message):
    with pytest.raises(Exception) as raised:
        validate_config(compose_config(overrides))
    from har.errors import as_user_error

    error = as_user_error(raised.value)
    assert isinstance(error, ConfigError) and message in str(error)


@pytest.mark.slow  # numba compiles MiniRocket on first use (minutes on a fresh install)
def test_minirocket_learns_and_its_seed_changes_the_transform():
    from har.classical.minirocket import MiniRocketClassifier

    train, val, test = toy_windows(200, 0), toy_windows(50, 1), toy_windows(100, 2)
    models = [MiniRocketClassifier(168, classifier="ridge", random_state=s) for s in (0, 0, 1)]
    infos = [m.fit(train, val, SIGNAL) for m in models]
    features = [m._features(test.x) for m in models]
    assert infos[0]["n_features"] == features[0].shape[1] and infos[0]["ridge_alpha"] > 0
    assert np.array_equal(features[0], features[1]) and not np.allclose(features[0], features[2])
    assert (models[0].predict(test.x) == test.y).mean() > 0.8


@pytest.mark.slow  # numba (see above)
def test_minirocket_picks_its_classifier_by_size_and_logistic_c_on_validation():
    from har.classical.minirocket import MiniRocketClassifier

    train, val, test = toy_windows(200, 0), toy_windows(50, 1), toy_windows(100, 2)
    fewer_windows_than_features = MiniRocketClassifier(252, random_state=0)  # 200 windows
    assert fewer_windows_than_features.fit(train, val, SIGNAL)["classifier"] == "ridge"
    cs = (1e-4, 1e-2, 1.0)
    model = MiniRocketClassifier(168, logistic_cs=cs, random_state=0)
    info = model.fit(toy_windows(300, 3), val, SIGNAL)  # more windows than features
    assert info["classifier"] == "logistic" and set(info["val_f1_per_C"]) == set(map(str, cs))
    # the C kept is the one with the best validation macro-F1, and its weights are the ones used
    assert info["val_f1_per_C"][str(info["logistic_C"])] == max(info["val_f1_per_C"].values())
    val_scored = f1_score(val.y, model.predict(val.x), average="macro")
    assert val_scored == pytest.approx(max(info["val_f1_per_C"].values()))
    assert (model.predict(test.x) == test.y).mean() > 0.8


@pytest.mark.parametrize(
    ("settings", "key"),
    [({"classifier": "svm"}, "classifier='svm'"), ({"logistic_cs": []}, "logistic_cs=[]"),
     ({"logistic_cs": [0.1, 0.0]}, "logistic_cs=[0.1, 0.0]")],
)  # fmt: skip
def test_minirocket_settings_that_cannot_work_are_config_errors(settings, key):
    from har.classical.minirocket import MiniRocketClassifier

    with pytest.raises(ConfigError, match=re.escape(f"model.estimator.{key}")):
        MiniRocketClassifier(84, **settings)
