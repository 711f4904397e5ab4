"""``model=minirocket``: MiniRocket (Dempster, Schmidt & Webb, KDD 2021), multivariate, from sktime,
followed by the paper's classifier: standardised features into ``RidgeClassifierCV`` with
``alphas = logspace(-3, 3, 10)``.

The transform sees the DataModule's standardised windows (per-channel z-scores with training
statistics, so channels of different units, acc and gyro, weigh alike). Its ``random_state`` (the
run's ``seed``) draws the dilations' biases from training windows, which is what makes seeds differ.
The ridge penalty is chosen as in the paper, by scikit-learn's efficient leave-one-out
cross-validation on the TRAINING windows; validation windows are only scored (``best_val_f1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from har.classical.window_arrays import SignalInfo, WindowSplit

PAPER_ALPHAS = tuple(np.logspace(-3, 3, 10).tolist())


class MiniRocketRidge:
    def __init__(
        self,
        num_kernels: int = 10_000,
        max_dilations_per_kernel: int = 32,
        alphas: Sequence[float] = PAPER_ALPHAS,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        # sktime (and numba, which compiles on first use) only when this model is chosen.
        from sktime.transformations.panel.rocket import MiniRocketMultivariate

        self.transform = MiniRocketMultivariate(
            num_kernels=num_kernels,
            max_dilations_per_kernel=max_dilations_per_kernel,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.classifier = make_pipeline(
            StandardScaler(), RidgeClassifierCV(alphas=np.asarray(alphas, dtype=float))
        )

    def _features(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.transform.transform(x.astype(np.float32)), dtype=np.float32)

    def fit(self, train: WindowSplit, val: WindowSplit, signal: SignalInfo) -> dict[str, Any]:
        del val, signal  # the paper selects by leave-one-out on the training windows
        self.transform.fit(train.x.astype(np.float32))
        self.classifier.fit(
            self._features(train.x), train.y, ridgeclassifiercv__sample_weight=train.weight
        )
        ridge = self.classifier[-1]
        return {
            "n_features": int(ridge.coef_.shape[1]),
            "ridge_alpha": float(ridge.alpha_),
            "alpha_selection": "leave-one-out on the training windows (RidgeClassifierCV)",
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classifier.predict(self._features(x)).astype(np.int64)
