"""``model=minirocket``: MiniRocket (Dempster, Schmidt & Webb, KDD 2021), multivariate, from sktime,
followed by one of the authors' two linear classifiers on the standardised features:

- ``ridge``: ``RidgeClassifierCV`` with ``alphas = logspace(-3, 3, 10)``, the penalty chosen by
  scikit-learn's efficient leave-one-out cross-validation on the TRAINING windows (the paper's
  default). Its cost grows with the cube of the feature count once there are more windows than
  features (scikit-learn then eigendecomposes the 10 000 × 10 000 covariance for every alpha:
  more than 40 minutes on one CPU thread for the realistic twin's 11 855 windows);
- ``logistic``: what the ROCKET/MiniRocket authors use for training sets larger than the feature
  count, multinomial logistic regression (L2, lbfgs), its ``C`` chosen from ``logistic_cs`` by
  macro-F1 on the run's VALIDATION split (the analogue of the networks' checkpoint selection and of
  ``features_gbm``'s early stopping); each ``C`` starts from the previous one's solution;
- ``auto`` (default): ``ridge`` while the training windows are no more than the features, else
  ``logistic``.

The transform sees the DataModule's standardised windows (per-channel z-scores with training
statistics, so channels of different units, acc and gyro, weigh alike). Its ``random_state`` (the
run's ``seed``) draws the dilations' biases from training windows, which is what makes seeds differ.
The test split is never seen before prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from har.classical.window_arrays import SignalInfo, WindowSplit
from har.errors import ConfigError

PAPER_ALPHAS = tuple(np.logspace(-3, 3, 10).tolist())
LOGISTIC_CS = tuple(np.logspace(-4, 2, 7).tolist())
CLASSIFIERS = ("auto", "ridge", "logistic")


class MiniRocketClassifier:
    def __init__(
        self,
        num_kernels: int = 10_000,
        max_dilations_per_kernel: int = 32,
        alphas: Sequence[float] = PAPER_ALPHAS,
        n_jobs: int = 1,
        random_state: int = 0,
        classifier: str = "auto",
        logistic_cs: Sequence[float] = LOGISTIC_CS,
        logistic_max_iter: int = 300,
    ) -> None:
        if classifier not in CLASSIFIERS:
            raise ConfigError(
                f"model.estimator.classifier={classifier!r}: choose one of {', '.join(CLASSIFIERS)}"
            )
        if not logistic_cs or min(logistic_cs) <= 0:
            raise ConfigError(
                f"model.estimator.logistic_cs={list(logistic_cs)}: give one or more C > 0"
            )
        # sktime (and numba, which compiles on first use) only when this model is chosen.
        from sktime.transformations.panel.rocket import MiniRocketMultivariate

        self.transform = MiniRocketMultivariate(
            num_kernels=num_kernels,
            max_dilations_per_kernel=max_dilations_per_kernel,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.classifier_choice = classifier
        self.alphas = np.asarray(alphas, dtype=float)
        self.logistic_cs = tuple(float(c) for c in logistic_cs)
        self.logistic_max_iter = logistic_max_iter
        self.classifier: Pipeline | None = None

    def _features(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.transform.transform(x.astype(np.float32)), dtype=np.float32)

    def fit(self, train: WindowSplit, val: WindowSplit, signal: SignalInfo) -> dict[str, Any]:
        del signal
        self.transform.fit(train.x.astype(np.float32))
        features = self._features(train.x)
        kind = self.classifier_choice
        if kind == "auto":
            kind = "ridge" if len(train.y) <= features.shape[1] else "logistic"
        if kind == "ridge":
            return {**self._fit_ridge(features, train), "classifier": kind}
        return {**self._fit_logistic(features, train, val), "classifier": kind}

    def _fit_ridge(self, features: np.ndarray, train: WindowSplit) -> dict[str, Any]:
        self.classifier = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=self.alphas))
        self.classifier.fit(features, train.y, ridgeclassifiercv__sample_weight=train.weight)
        ridge = self.classifier[-1]
        return {
            "n_features": int(ridge.coef_.shape[1]),
            "ridge_alpha": float(ridge.alpha_),
            "alpha_selection": "leave-one-out on the training windows (RidgeClassifierCV)",
        }

    def _fit_logistic(
        self, features: np.ndarray, train: WindowSplit, val: WindowSplit
    ) -> dict[str, Any]:
        scaler = StandardScaler().fit(features, sample_weight=train.weight)
        scaled, val_scaled = scaler.transform(features), scaler.transform(self._features(val.x))
        logistic = LogisticRegression(max_iter=self.logistic_max_iter, warm_start=True)
        val_f1, best = {}, None
        for c in sorted(self.logistic_cs):  # strongest penalty first: each warm-starts the next
            logistic.set_params(C=c).fit(scaled, train.y, sample_weight=train.weight)
            val_f1[c] = f1_score(val.y, logistic.predict(val_scaled), average="macro")
            if best is None or val_f1[c] > val_f1[best[0]]:  # a tie keeps the stronger penalty
                best = (c, logistic.coef_.copy(), logistic.intercept_.copy())
        assert best is not None  # logistic_cs is not empty (checked at construction)
        logistic.coef_, logistic.intercept_ = best[1], best[2]
        self.classifier = Pipeline([("standardscaler", scaler), ("logistic", logistic)])
        return {
            "n_features": int(features.shape[1]),
            "logistic_C": best[0],
            "val_f1_per_C": {str(c): float(f) for c, f in val_f1.items()},
            "C_selection": "macro-F1 on the validation split",
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.classifier is not None, "fit first"
        return self.classifier.predict(self._features(x)).astype(np.int64)
