"""A tiny valid watch data set file, in the structure seglearn publishes (see har.data.sources.watch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASS_NAMES = ("PEN", "ABD")
SUBJECTS = (1, 2, 3)


def watch_content(samples: int = 160, seed: int = 0) -> dict:
    """One recording per participant, exercise and arm: 12 recordings of ``samples`` rows (g, rad/s)."""
    rng = np.random.default_rng(seed)
    X, y, subject, side = [], [], [], []
    for person in SUBJECTS:
        for exercise in range(len(CLASS_NAMES)):
            for arm in (1.0, 0.0):
                t = np.arange(samples + 7 * person) / 50.0
                swing = np.sin(2 * np.pi * (0.5 + exercise) * t)[:, None]
                acc = np.array([0.0, 0.0, 1.0]) + 0.3 * swing + 0.02 * rng.normal(size=(len(t), 3))
                gyr = 2.0 * swing * np.array([1.0, -0.5, 0.2]) + 0.1 * rng.normal(size=(len(t), 3))
                X.append(np.hstack([acc, gyr]))
                y.append(exercise)
                subject.append(person)
                side.append(arm)
    return {
        "X": X,
        "y_labels": list(CLASS_NAMES),
        "y": np.array(y, dtype=np.int64),
        "subject": np.array(subject, dtype=np.int64),
        "side": np.array(side, dtype=np.float64),
        "X_labels": ["ax", "ay", "az", "wx", "wy", "wz"],
    }


def save_watch_file(path: Path, content: dict) -> Path:
    """Pickle ``content`` as seglearn does: ``np.save`` of the dict (a 0-d object array)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:  # np.save(path) would append .npy to another suffix
        np.save(handle, np.array(content, dtype=object), allow_pickle=True)
    return path
