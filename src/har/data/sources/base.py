"""What a data set supplies to the one DataModule: its sessions per split, read and aligned.

A *session source* knows one data set's files, layout and protocol. The DataModule
(``har.data.datamodule.SessionDataModule``) asks it for three things and does everything else
itself — caching, normalisation, windowing and one-gather batching are one mechanism for all:

- ``split_refs()``: the sessions of each split (``SessionRef``: a name, the subject, the raw files
  whose identity keys the cache). Listing never parses data; sessions whose files are incomplete
  are left out and named in ``skipped`` (the inspection command shows them).
- ``settings()``: every preprocessing setting that changes what ``read`` returns (part of the
  cache key).
- ``read(ref)``: the aligned ``Session`` on the uniform ``rate_hz`` clock, or None when the files
  hold no usable data (reported, then skipped).

Plus a description: ``class_names``, ``joint_names`` (the layout of ``Session.pose``; ``()``: the
data set has no pose, every session is IMU-only), the
``torso`` joint pair whose length is the body scale, whether sessions are short labelled
``clips`` (one action each: windowed by ``har.data.clip_windows``) and whether the data set is
``pose_only`` (no IMU: ``Session.acc`` has zero columns and batches carry no ``"acc"``).

Pose frame shared by every source: metres, camera-like axes (x right, y down, z away from the
camera), as in the MM-Fit twin. Readers of Kinect data rotate Kinect camera space into it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from har.data.session import Session
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SessionRef:
    """One session a split lists: enough to key the cache and to read it."""

    name: str  # unique within the data set (MM-Fit workout id, UTD clip name, ...)
    subject: int | str  # the person: splits that share one are not subject-independent
    files: tuple[Path, ...]  # raw files it is read from; their identity keys the cache
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)  # source-private


class SessionSource(Protocol):
    data_dir: Path
    cache_namespace: str  # folder under data.cache_dir
    class_names: tuple[str, ...]
    joint_names: tuple[str, ...] | None  # None until split_refs() has looked; (): no pose
    torso: tuple[int, int]
    rate_hz: float
    clips: bool
    pose_only: bool
    skipped: dict[str, list[str]]  # split -> sessions listed but left out (missing files)

    def prepare(self) -> None:
        """Make the raw files exist (e.g. generate a synthetic tree); never parses data."""

    def split_refs(self) -> dict[str, list[SessionRef]]:
        """Sessions of train/val/test; raises DataError naming the fix if a split is empty."""

    def settings(self) -> dict[str, Any]:
        """Every setting that changes what ``read`` returns (JSON-serialisable)."""

    def read(self, ref: SessionRef) -> Session | None:
        """The aligned session, or None when its files hold no usable data."""


class ParticipantFolds(Protocol):
    """A DataModule that can be re-split by participant (``run_eval.py --folds``, planned by
    ``har.launch.folds``). Each data set keeps its own split keys; these two methods translate."""

    def participants(self) -> list[int | str]:
        """Every participant with usable files (may generate a synthetic tree; reads no data)."""

    def fold_overrides(
        self, test: Sequence[int | str], val: Sequence[int | str]
    ) -> dict[str, list[Any]]:
        """``{config key: value}`` that make ``test`` the test split, ``val`` the validation
        split and every other participant the training split."""


class GeneratedOnRequest:
    """``prepare()`` for a source whose files may be a synthetic tree: when its ``synthetic`` holds
    the generator's settings (None: real files), ``twin_generator`` ("module:function", imported
    only then: the generators pull in the motion and physics code) makes sure the tree exists."""

    twin_generator: ClassVar[str]
    data_dir: Path
    synthetic: Mapping[str, Any] | None

    def prepare(self) -> None:
        if self.synthetic is not None:
            module, function = self.twin_generator.split(":")
            ensure_twin = getattr(importlib.import_module(module), function)
            ensure_twin(self.data_dir, **self.synthetic)


# ---- config value checks shared by the data sets' DataModules ---------------------------------
def plain(value: Any) -> Any:
    """Hydra ListConfig/DictConfig -> plain list/dict (other values unchanged)."""
    if isinstance(value, (ListConfig, DictConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{key}={value!r} must be a positive number")
    return float(value)


def choice(value: Any, key: str, options: Sequence[str]) -> str:
    if value not in options:
        raise ConfigError(f"{key}={value!r} is unknown: choose one of {', '.join(options)}")
    return str(value)


def integers(values: Any, key: str) -> tuple[int, ...]:
    values = plain(values)
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
    ):
        raise ConfigError(f"{key}={values!r} must be a list of integers")
    return tuple(int(v) for v in values)


def stream_names(values: Any, key: str, known: Sequence[str] | None = None) -> tuple[str, ...]:
    """``data.sensors`` / ``data.regress``: a non-empty list of distinct stream names (of
    ``known`` when the data set's streams are fixed)."""
    values = plain(values)
    if isinstance(values, str):
        values = [values]
    if (
        not isinstance(values, (list, tuple))
        or not values
        or not all(isinstance(v, str) for v in values)
        or len(set(values)) != len(values)
    ):
        raise ConfigError(f"{key}={values!r} must be a non-empty list of distinct stream names")
    if known is not None and (unknown := [v for v in values if v not in known]):
        raise ConfigError(
            f"{key} holds {', '.join(unknown)}: this data set's streams are {', '.join(known)}"
        )
    return tuple(values)


def synthetic_settings(value: Any, types: Mapping[str, type]) -> dict[str, Any] | None:
    """``data.synthetic``: null (read real files) or exactly the generator's keys, converted."""
    value = plain(value)
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != set(types):
        raise ConfigError(f"data.synthetic={value!r}: expected null or {{{', '.join(types)}}}")
    return {key: convert(value[key]) for key, convert in types.items()}


def disjoint_splits(splits: Mapping[str, Sequence[Any]], what: str, key: str) -> None:
    """Raise when a session or subject is in two splits (the result would leak)."""
    for (a, in_a), (b, in_b) in combinations(splits.items(), 2):
        if shared := sorted(set(in_a) & set(in_b), key=str):
            raise DataError(
                f"{what} {', '.join(map(str, shared))} are in both {a} and {b}: "
                f"fix data.{a}_{key}/data.{b}_{key}"
            )


def require_nonempty(refs: Mapping[str, list[SessionRef]], where: Path, fix: str) -> None:
    for split, listed in refs.items():
        if not listed:
            raise DataError(f"split {split!r} has no usable session in {where}: {fix}")


def uniform_clock(duration_s: float, rate_hz: float) -> np.ndarray:
    """Sample times 0, 1/rate, ... up to ``duration_s`` (inclusive within rounding)."""
    return np.arange(int(np.floor(duration_s * rate_hz + 1e-9)) + 1) / rate_hz


def kinect_to_pose_frame(xyz: np.ndarray) -> np.ndarray:
    """Kinect camera space (x to the sensor's left, y up, z out of the sensor) -> the pose frame.

    A half turn about z: (x, y, z) -> (-x, -y, z). It is a rotation, not a mirror, so a person's
    left stays their left. (The Kinect SDKs document this camera space; it is unverified against
    the published UTD-MHAD and NTU files, whose readers use this one function.)
    """
    return np.asarray(xyz) * np.array([-1.0, -1.0, 1.0])
