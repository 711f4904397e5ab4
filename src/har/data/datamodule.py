"""Lightning DataModules: one windowing / normalisation / batching mechanism for every data set.

Each data set supplies its sessions through a session source (``har.data.sources.base``); the
``SessionDataModule`` here caches them, fits normalisation on the training sessions, builds the
window index (``windows.build_index`` for long sessions, ``clip_windows.build_clip_index`` for
short labelled clips) and concatenates each split into one contiguous tensor per stream, so a
batch is gathered with one indexing op per stream (``har.data.window_dataset``), never a
per-window loop. The per-data-set classes (``MMFitDataModule``, ``UTDDataModule``, ``NTUDataModule``,
``FolderDataModule``, each beside its reader) only turn their config keys into a
source.

Batch contract:
    ``{"pose": (B, J, 3, T), "acc": (B, C, T), "label": (B,)}`` for paired data;
    pose-only data sets (``pose_only``) carry no ``"acc"``;
    IMU-only data (a session whose ``pose`` has zero joints, e.g. ``data=watch``) carries no
    ``"pose"``: one such session drops pose for the whole data set (``sessions_without_pose``
    names them), so only the real path trains (``har.training.validate`` refuses the rest);
    clip data sets (``clips``) add ``"mask"``: (B, T) bool, False on edge-replicated padding.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader

from har.data.cache import SessionCache, reader_code_digest, session_key
from har.data.clip_windows import CLIP_WINDOWS, build_clip_index, padded_samples
from har.data.imu_subjects import choose_imu_subjects
from har.data.normalise import AccStats, body_scale, fit_acc_stats, save_stats
from har.data.session import Session, layout_mismatch, mask_nonfinite
from har.data.sources.base import SessionRef, SessionSource, choice, plain, positive
from har.data.split_cache import SplitArrayCache, split_key
from har.data.window_dataset import WindowDataset, already_batched
from har.data.windows import WindowIndex, build_index, stride_samples
from har.errors import ConfigError, DataError

log = logging.getLogger(__name__)

NUM_POSE_JOINTS = 17  # MM-Fit's Human3.6M layout


class SessionDataModule(pl.LightningDataModule):
    """The shared mechanism; subclasses build ``source`` from their config keys."""

    def __init__(
        self,
        source: SessionSource,
        *,
        cache_dir: str | Path | None,
        joints: Sequence[int],
        root_joint: int,
        sensor_window_length: int,
        stride_seconds: float,
        batch_size: int,
        num_workers: int,
        imu_channels: int,
        clip_windows: str = "centre",
        imu_subjects: Any = None,
        imu_subjects_seed: int = 0,
    ) -> None:
        super().__init__()
        self.source = source
        self.data_dir = source.data_dir
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser().resolve()
        if self.cache_dir is not None and self.cache_dir.is_relative_to(self.data_dir):
            raise ConfigError(
                f"data.cache_dir={self.cache_dir} lies inside data.data_dir: derived files never go beside the raw files"
            )
        self.joints = [_joint_index(value, "data.joints") for value in plain(joints)]
        if not self.joints and source.joint_names != ():  # () : the source has no pose at all
            raise ConfigError("data.joints is empty: list the joint indices fed to the regressor")
        self.root_joint = _joint_index(root_joint, "data.root_joint")
        if source.joint_names:  # None: not known before listing; (): no pose
            self._check_joints(len(source.joint_names))
        self.sampling_rate_hz = source.rate_hz
        self.sensor_window_length = int(positive(sensor_window_length, "data.sensor_window_length"))
        self.stride_seconds = positive(stride_seconds, "data.stride_seconds")
        self.batch_size = int(positive(batch_size, "data.batch_size"))
        self.num_workers = int(num_workers)
        self.clip_windows = choice(clip_windows, "data.clip_windows", CLIP_WINDOWS)
        self.imu_subjects = plain(imu_subjects)
        self.imu_subjects_seed = int(imu_subjects_seed)
        self.imu_subjects_used: tuple[int | str, ...] | None = None  # after setup
        self._train_has_imu: np.ndarray | None = None  # per training session, after setup
        self.num_joints = len(self.joints)
        # ``imu_channels`` is what the config claims; after setup it is what the files hold and
        # the trial checks the config against it (har.training.validate.validate_against_data).
        self.imu_channels = 0 if source.pose_only else int(imu_channels)
        self.sessions: dict[str, list[Session]] = {}
        self.sessions_without_pose: list[str] = []  # after prepare_data: IMU-only sessions
        self.acc_stats: AccStats | None = None
        self.stats_path: Path | None = None  # where the training statistics were saved
        self.windows: dict[str, WindowIndex] = {}
        self.window_counts: dict[str, list[int]] = {}
        self.padded_windows: dict[str, int] = {}
        self.datasets: dict[str, WindowDataset] = {}
        self.body_scales: dict[str, list[float]] = {}
        self._session_keys: dict[str, list[str]] = {}
        root = None if self.cache_dir is None else self.cache_dir / source.cache_namespace
        self._cache = SessionCache(root)
        self._split_cache = SplitArrayCache(
            None if root is None else root / "splits", ("pose", "root", "acc", "body_scales")
        )

    # ---- what the data set is ------------------------------------------------------------------
    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.source.class_names)

    @property
    def num_classes(self) -> int:
        return len(self.source.class_names)

    @property
    def pose_only(self) -> bool:
        return self.source.pose_only

    @property
    def has_pose(self) -> bool:
        """Whether batches carry ``"pose"`` (after prepare_data: no session is IMU-only)."""
        return not self.sessions_without_pose

    @property
    def clips(self) -> bool:
        return self.source.clips

    def participants(self) -> list[int | str]:
        """Every participant of the configured splits (what participant folds are drawn from);
        lists the files, reads no data."""
        self.source.prepare()
        refs = self.source.split_refs()
        people = {ref.subject for group in refs.values() for ref in group}
        # ids in numeric order, names after them (a data set may use either)
        return sorted(people, key=lambda p: (1, 0, p) if isinstance(p, str) else (0, p, ""))

    def check_pairs_with(self, primary: SessionDataModule) -> None:
        """For a secondary data set: its windows must feed the primary's regressor unchanged."""
        for what, mine, theirs in (
            ("sampling_rate_hz", self.sampling_rate_hz, primary.sampling_rate_hz),
            ("joints (count)", self.num_joints, primary.num_joints),
        ):
            if mine != theirs:
                raise ConfigError(
                    f"data.secondary.{what} is {mine} but the primary data set's is {theirs}: "
                    "the regressor sees both, set them alike"
                )

    # ---- Lightning hooks -------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate a synthetic tree if configured, then read, align and cache every session."""
        self._load_sessions()

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return  # idempotent: Lightning calls setup once per stage
        sessions = self._load_sessions()
        if not self.pose_only:
            # Scarce real IMU: only the chosen subjects' IMU is used, for the statistics too.
            train = sessions["train"]
            self.imu_subjects_used = choose_imu_subjects(
                [s.participant for s in train], self.imu_subjects, self.imu_subjects_seed
            )
            has_imu = np.array([s.participant in self.imu_subjects_used for s in train])
            self._train_has_imu = None if has_imu.all() else has_imu
            self.acc_stats = fit_acc_stats(
                [s for s, kept in zip(train, has_imu, strict=True) if kept]
            )
            self.imu_channels = len(self.acc_stats.mean)
            if self._cache.root is not None:  # keyed by the sessions the statistics come from
                kept = zip(self._session_keys["train"], has_imu, strict=True)
                keys = " ".join(key for key, used in kept if used)
                digest = hashlib.sha256(keys.encode()).hexdigest()[:32]
                self.stats_path = self._cache.root / f"stats-{digest}"
                save_stats(self.acc_stats, self.stats_path)
        stride = stride_samples(self.stride_seconds, self.sampling_rate_hz)
        for split, split_sessions in sessions.items():
            window = self.sensor_window_length
            if self.clips:
                index = build_clip_index(split_sessions, window, stride, self.clip_windows, split)
            else:
                index = _labelled_only(build_index(split_sessions, window, stride, split), split)
            self.windows[split] = index
            self.window_counts[split] = index.class_counts(self.num_classes)
            self.padded_windows[split] = int((padded_samples(index) > 0).sum())
            self.datasets[split] = self._dataset(split, split_sessions, index)
            log.info(
                "%s: %d sessions, %d samples, %d windows (%d padded, %d samples invalid, %d of "
                "them non-finite)",
                split, len(split_sessions), index.session_offsets[-1], len(index),
                self.padded_windows[split], sum(int((~s.valid).sum()) for s in split_sessions),
                sum(s.report.get("samples_nonfinite", 0) for s in split_sessions),
            )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        # Seeded from torch's seed, so lightning's seed_everything fixes the shuffling order; a
        # resumed run continues the checkpointed generator instead (state_dict below).
        generator = torch.Generator().manual_seed(torch.initial_seed())
        if self._resumed_generator_state is not None:
            generator.set_state(self._resumed_generator_state)
            self._resumed_generator_state = None
        self._train_generator = generator
        return self._loader("train", shuffle=True, generator=generator)

    # Lightning keeps a DataModule's state_dict in every checkpoint and hands it back on resume
    # before the dataloaders are built, so the resumed epochs shuffle as the uninterrupted run did.
    _train_generator: torch.Generator | None = None
    _resumed_generator_state: torch.Tensor | None = None

    def state_dict(self) -> dict[str, Any]:
        generator = self._train_generator
        return {} if generator is None else {"train_generator": generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resumed_generator_state = state_dict.get("train_generator")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    # ---- building ----------------------------------------------------------------------------
    def _load_sessions(self) -> dict[str, list[Session]]:
        if self.sessions:
            return self.sessions
        self.source.prepare()
        refs = self.source.split_refs()
        if self.source.joint_names:
            self._check_joints(len(self.source.joint_names))
        # The reader's own code is part of the key: a fixed reader never reuses a stale session.
        settings = {**self.source.settings(), "reader_code": reader_code_digest(self.source)}
        sessions: dict[str, list[Session]] = {}
        unusable: list[str] = []
        first: Session | None = None  # every session must have its joint and IMU column counts
        for split, split_refs in refs.items():
            sessions[split], self._session_keys[split] = [], []
            for ref in split_refs:
                key = session_key(_safe_name(ref.name), ref.files, settings)
                session = cached = self._cache.load(key)
                if session is None:
                    session = self.source.read(ref)
                    if session is None:
                        unusable.append(ref.name)
                        continue
                    mask_nonfinite(session)  # before caching: a cached session is clean
                self._check_layout(session, ref, first)
                if cached is None:
                    self._cache.save(key, session)
                first = first or session
                if dropped := session.report.get("samples_nonfinite", 0):
                    log.warning(
                        "%s/%s: %d of %d samples dropped as non-finite (no window touches them)",
                        split, session.workout, dropped, len(session),
                    )  # fmt: skip
                sessions[split].append(session)
                self._session_keys[split].append(key)
            if not sessions[split]:
                raise DataError(
                    f"split {split!r}: none of its {len(split_refs)} sessions in {self.data_dir} holds usable data"
                )
        if unusable:
            log.warning(
                "%d sessions hold no usable data and were skipped: %s",
                len(unusable), ", ".join(unusable[:20]) + (" ..." if len(unusable) > 20 else ""),
            )  # fmt: skip
        self.sessions = sessions
        self.sessions_without_pose = [
            s.workout for group in sessions.values() for s in group if s.pose.shape[1] == 0
        ]
        return sessions

    @staticmethod
    def _check_layout(session: Session, ref: SessionRef, first: Session | None) -> None:
        if first is not None and (mismatch := layout_mismatch(session, first)):
            raise DataError(f"{', '.join(map(str, ref.files))} (session {ref.name}): {mismatch}")

    def _check_joints(self, num_joints: int) -> None:
        names = self.source.joint_names or ()
        for key, values in (("data.joints", self.joints), ("data.root_joint", [self.root_joint])):
            if any(v >= num_joints for v in values):
                raise ConfigError(
                    f"{key} holds {values}: this data set's poses have {num_joints} joints "
                    f"(0..{num_joints - 1}: {', '.join(names)})"
                )

    def _dataset(self, split: str, sessions: list[Session], index: WindowIndex) -> WindowDataset:
        has_imu = self._train_has_imu if split == "train" else None
        # Reused across trials from the split cache: a warm start maps files, computes nothing.
        params = {
            "sessions": self._session_keys[split], "joints": self.joints, "root": self.root_joint,
            "torso": self.source.torso, "has_imu": has_imu,
            "acc_stats": None if self.acc_stats is None else self.acc_stats.to_json(),
        }  # fmt: skip
        code = (SessionDataModule._split_arrays, body_scale, AccStats.apply)
        arrays = self._split_cache.get_or_build(
            split_key(split, params, code), lambda: self._split_arrays(sessions, has_imu)
        )
        self.body_scales[split] = arrays["body_scales"].tolist()
        imu_mask = None if has_imu is None else torch.from_numpy(has_imu[index.session])
        acc, pose, root = (
            None if arrays[k] is None else torch.from_numpy(arrays[k])
            for k in ("acc", "pose", "root")
        )
        return WindowDataset(
            acc=acc,
            pose=pose,
            root=root,
            index=index,
            clip_bounds=self.clips,
            imu_mask=imu_mask,
        )

    def _split_arrays(
        self, sessions: list[Session], has_imu: np.ndarray | None
    ) -> dict[str, np.ndarray | None]:
        """The split's sessions end to end: body-scaled joints and root (none for IMU-only data),
        standardised IMU."""
        pose = root = None
        scales = []
        if self.has_pose:
            scales = [body_scale(s.pose, s.workout, self.source.torso) for s in sessions]
            pose = np.concatenate(
                [s.pose[:, self.joints] / k for s, k in zip(sessions, scales, strict=True)]
            ).astype(np.float32)
            root = np.concatenate(
                [s.pose[:, self.root_joint] / k for s, k in zip(sessions, scales, strict=True)]
            ).astype(np.float32)
        # data.imu_subjects: training subjects without real IMU get zeros and imu_mask False; their
        # signal is never standardised nor batched (MM-Fit's reader still reads the watch file,
        # whose timestamps are the only clock of the video frames).
        acc = None
        if self.acc_stats is not None:
            acc = np.concatenate([
                self.acc_stats.apply(s.acc) if has_imu is None or has_imu[i]
                else np.zeros(s.acc.shape, np.float32)
                for i, s in enumerate(sessions)
            ])  # fmt: skip
        return {
            "pose": pose,
            "root": root,
            "acc": acc,
            "body_scales": np.array(scales, dtype=np.float64),
        }

    def _loader(
        self, split: str, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> DataLoader:
        self.setup()
        dataset = self.datasets[split]
        on_host = dataset.device.type == "cpu"
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=generator,
            # A last training batch of one window would break BatchNorm; evaluation sees all windows.
            drop_last=shuffle and len(dataset) > self.batch_size,
            collate_fn=already_batched,  # __getitems__ returns the finished batch
            # Windows already on the accelerator are gathered there, by this process only.
            num_workers=self.num_workers if on_host else 0,
            persistent_workers=self.num_workers > 0 and on_host,
            pin_memory=torch.cuda.is_available() and on_host,
        )


# ---- helpers ----------------------------------------------------------------------------------
def _joint_index(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{key} holds {value!r}: joint indices are integers >= 0")
    return int(value)


def _safe_name(name: str) -> str:
    """A session name as one path component of the cache (folder sessions are ``subject/name``)."""
    return re.sub(r"[^\w.-]", "_", name)


def _labelled_only(index: WindowIndex, split: str) -> WindowIndex:
    """Leave out windows centred on an unlabelled sample (label -1, bring-your-own data)."""
    keep = index.label >= 0
    if keep.all():
        return index
    if not keep.any():
        raise DataError(f"split {split!r}: every window is centred on an unlabelled sample (-1)")
    return replace(
        index, start=index.start[keep], label=index.label[keep], session=index.session[keep]
    )
