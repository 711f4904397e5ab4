"""``model=features_gbm``: the hand-made window features (``window_features``) + scikit-learn's
``HistGradientBoostingClassifier``.

Early stopping uses the run's VALIDATION split (``fit(..., X_val, y_val)``): boosting stops once
the validation log-loss has not improved by ``tol`` for ``n_iter_no_change`` iterations, the
analogue of the neural models' checkpoint selection on validation. The test split is never seen
before prediction. ``max_features`` < 1 draws a random subset of features at every split (with
``random_state``, i.e. the run's ``seed``): it regularises, and it is what makes seeds differ,
since with an explicit validation set the boosting itself would otherwise be deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from har.classical.window_arrays import SignalInfo, WindowSplit
from har.window_features import WindowFeatures


class FeaturesGBM:
    def __init__(
        self,
        autocorr_lags_s: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
        bands_hz: Sequence[Sequence[float]] = ((0, 1), (1, 3), (3, 6), (6, 10), (10, 25)),
        learning_rate: float = 0.1,
        max_iter: int = 500,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_features: float = 0.5,
        n_iter_no_change: int = 10,
        random_state: int = 0,
    ) -> None:
        self.features = WindowFeatures(autocorr_lags_s, bands_hz)
        self.gbm = HistGradientBoostingClassifier(
            learning_rate=learning_rate,
            max_iter=max_iter,
            max_leaf_nodes=max_leaf_nodes,
            min_samples_leaf=min_samples_leaf,
            l2_regularization=l2_regularization,
            max_features=max_features,
            early_stopping=True,
            scoring="loss",
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
        )
        self._signal: SignalInfo | None = None

    def _features(self, x: np.ndarray) -> np.ndarray:
        assert self._signal is not None, "fit first"
        return self.features.transform(self._signal.physical(x), self._signal.rate_hz)

    def fit(self, train: WindowSplit, val: WindowSplit, signal: SignalInfo) -> dict[str, Any]:
        self._signal = signal
        self.gbm.fit(
            self._features(train.x),
            train.y,
            sample_weight=train.weight,
            X_val=self._features(val.x),
            y_val=val.y,
        )
        val_loss = -np.asarray(self.gbm.validation_score_)  # scoring="loss": scores are -loss
        return {
            "n_features": len(self.features.names),
            "boosting_iterations": int(self.gbm.n_iter_),
            "best_val_loss": float(val_loss.min()),
            "val_loss_last": float(val_loss[-1]),
            "train_loss_last": float(-self.gbm.train_score_[-1]),
            "early_stopping": "validation split log-loss",
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.gbm.predict(self._features(x)).astype(np.int64)
