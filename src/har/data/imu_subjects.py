"""Scarce real IMU: which training subjects keep their watch signal (``data.imu_subjects``).

The regime simulation exists for: many people filmed, few of them wearing the sensor. The other
training subjects still give pose and labels, which reach the classifier through the simulated
path only. Validation and test keep their IMU: the deployed model is always scored on real IMU.
"""

from __future__ import annotations

import itertools
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
    fraction f in (0, 1]: k = max(1, round(f · n)) of the n training subjects. Draw ``seed``
    (``data.imu_subjects_seed``) is the seed-th k-subset of one fixed shuffled order of all of
    them, so real_only and scenario2 runs of the same draw see the same people and draws 0, 1, 2...
    are distinct people sets as long as there are that many (independent permutations per seed
    repeat subsets often when k is small: 1 of 5 gave draws 0 and 2 the same person).
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
        return tuple(subjects[i] for i in _kth_subset(len(subjects), count, seed))
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


_ENUMERABLE = 100_000  # k-subsets of at most this many are listed and shuffled once


def _kth_subset(n: int, k: int, draw: int) -> tuple[int, ...]:
    """Draw ``draw`` of k of n indices (sorted): distinct for distinct draws below C(n, k)."""
    total = math.comb(n, k)
    if total <= _ENUMERABLE:
        order = np.random.default_rng(0).permutation(total)
        return next(
            itertools.islice(itertools.combinations(range(n), k), int(order[draw % total]), None)
        )
    # Too many to list (e.g. 10 of NTU's 40): independent draws, where a repeat is improbable.
    return tuple(sorted(np.random.default_rng(draw).permutation(n)[:k].tolist()))
