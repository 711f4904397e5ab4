"""Fit a reference classifier on a set-up DataModule and predict its validation and test windows."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from har.classical.window_arrays import (
    ReferenceClassifier,
    WindowSplit,
    signal_info,
    window_split,
)
from har.errors import ConfigError

log = logging.getLogger("har")

SCORED_SPLITS = ("val", "test")
MODEL_KINDS = ("neural", "classical")  # model.kind; absent: neural (R, F and C)


def is_classical(model: Mapping[str, Any]) -> bool:
    """Whether ``model`` (the ``model`` config) is a reference classifier (``model.estimator``)."""
    kind = model.get("kind", "neural")
    if kind not in MODEL_KINDS:
        raise ConfigError(f"model.kind={kind!r} is unknown: choose one of {', '.join(MODEL_KINDS)}")
    if kind == "classical" and not isinstance(model.get("estimator"), Mapping):
        raise ConfigError(
            "model.estimator: a classical model needs its estimator's config (_target_)"
        )
    return kind == "classical"


@dataclass
class ReferenceOutcome:
    predictions: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (predicted, true) classes
    fit_info: dict[str, Any]  # what the estimator chose (results.json "classical")
    window_counts: dict[str, int] = field(default_factory=dict)  # windows used per split
    fit_s: float = 0.0
    predict_s: float = 0.0


def fit_and_predict(
    estimator: ReferenceClassifier,
    datamodule: Any,
    virtual: WindowSplit | None = None,
    virtual_weight: float = 1.0,
) -> ReferenceOutcome:
    """The test split is predicted once, after fitting; nothing is chosen on it. ``virtual``
    windows (simulated IMU, ``scenario=virtual_imu``) join the real training windows, each with
    sample weight ``virtual_weight``."""
    splits = {split: window_split(datamodule, split) for split in ("train", *SCORED_SPLITS)}
    window_counts = {split: len(windows.y) for split, windows in splits.items()}  # real windows
    train = splits["train"]
    if virtual is not None:
        window_counts["train_virtual"] = len(virtual.y)
        train = train.joined(virtual, virtual_weight)
    start = time.time()
    fit_info = estimator.fit(train, splits["val"], signal_info(datamodule))
    fit_s = time.time() - start
    log.info("%s fitted on %d windows in %.1f s: %s",
             type(estimator).__name__, len(train.y), fit_s, fit_info)  # fmt: skip
    start = time.time()
    predictions = {
        split: (estimator.predict(splits[split].x), splits[split].y) for split in SCORED_SPLITS
    }
    return ReferenceOutcome(
        predictions=predictions,
        fit_info=fit_info,
        window_counts=window_counts,
        fit_s=fit_s,
        predict_s=time.time() - start,
    )
