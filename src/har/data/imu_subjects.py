"""Scarce real IMU: which training subjects keep their watch signal (``data.imu_subjects``).

The regime simulation exists for: many people filmed, few of them wearing the sensor. The other
training subjects still give pose and labels, which reach the classifier through the simulated
path only. Validation and test keep their IMU: the deployed model is always scored on real IMU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from har.errors import ConfigError


def choose_imu_subjects(
    train_subjects: Sequence[int | str], spec: Any, seed: int = 0
) -> tuple[int | str, ...]:
    """The training subjects whose real IMU is used, sorted.

    ``spec``: None (everyone), a list of subject ids (each must be a training subject), or a
    fraction f in (0, 1]: max(1, round(f · n)) of the n training subjects, drawn by a permutation
    seeded with ``seed`` (``data.imu_subjects_seed``), so real_only and scenario2 runs of the same
    seed see the same people.
    """
    subjects = sorted(set(train_subjects), key=str)
    if spec is None:
        return tuple(subjects)
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        if not 0 < spec <= 1:
            raise ConfigError(
                f"data.imu_subjects={spec!r}: a fraction must be in (0, 1] (or give a list of ids)"
            )
        count = max(1, math.floor(spec * len(subjects) + 0.5))
        order = np.random.default_rng(seed).permutation(len(subjects))
        return tuple(sorted((subjects[i] for i in order[:count]), key=str))
    if isinstance(spec, (list, tuple)) and spec:
        unknown = [s for s in spec if s not in subjects]
        if unknown:
            raise ConfigError(
                f"data.imu_subjects lists {unknown}, who are not training subjects "
                f"(training subjects: {subjects})"
            )
        return tuple(sorted(set(spec), key=str))
    raise ConfigError(
        f"data.imu_subjects={spec!r}: give null, a non-empty list of training subject ids, "
        "or a fraction in (0, 1]"
    )
