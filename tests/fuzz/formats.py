"""Every format the fuzz suite breaks: a small valid tree, its files, its reader, its trial.

A new format plugs in with one ``Format``: ``write`` a tiny valid tree, list the ``files`` worth
breaking, build its ``datamodule`` (the reader behind the one DataModule), and give the
``overrides`` that train on it (None for a pose-only format, which cannot be trained on alone).
``session_of`` says which name an error about a file must carry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har.data.datamodule import SessionDataModule
from har.data.sources.folder import FolderDataModule, write_session
from har.data.sources.mmfit.source import MMFitDataModule
from har.data.sources.ntu.source import NTUDataModule
from har.data.sources.utd import UTDDataModule
from har.data.sources.watch import FILE_NAME as WATCH_FILE
from har.data.sources.watch import WatchDataModule
from har.data.twin.ntu import skeleton_text
from tests.bad_inputs.entrypoint import tiny_overrides
from tests.data.mmfit_writer import tiny_datamodule_kwargs, write_tiny_dataset
from tests.data.watch_writer import save_watch_file, watch_content

TRIAL = [  # a tiny model, one short epoch
    "scenario=debug", "trainer.epochs=1", "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.progress_bar=false",
    "trainer.plots=false",
]  # fmt: skip


@dataclass(frozen=True)
class Format:
    name: str
    write: Callable[[Path], None]
    files: Callable[[Path], list[Path]]
    datamodule: Callable[[Path, Path | None], SessionDataModule]
    overrides: Callable[[Path, Path], list[str]] | None
    session_of: Callable[[Path], str]
    rename: Callable[[Path], Path] | None = None  # where a duplicate of a file goes


# ---- MM-Fit: .npy streams and the labels .csv ---------------------------------------------------
def _mmfit_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("w*/*") if p.suffix in (".npy", ".csv"))


MMFIT = Format(
    name="mmfit",
    write=lambda root: write_tiny_dataset(root),
    files=_mmfit_files,
    datamodule=lambda root, cache: MMFitDataModule(**tiny_datamodule_kwargs(root, cache)),
    overrides=lambda root, cache: [*tiny_overrides(root, cache), "trainer.plots=false"],
    session_of=lambda path: path.parent.name,
)


# ---- the folder layout: one .npz per session -------------------------------------------------------
FOLDER_CLASSES, FOLDER_JOINTS = ("rest", "wave"), ("hip", "neck", "shoulder", "elbow", "wrist")


def _folder_write(root: Path) -> None:
    for i, (subject, name) in enumerate([("a", "s1"), ("a", "s2"), ("b", "s1"), ("c", "s1")]):
        rng = np.random.default_rng(i)
        n = 300
        pose = np.zeros((n, 5, 3))
        pose[:, 1, 1] = -0.5
        pose[:, 2:, 0] = [0.2, 0.3, 0.4]
        pose[:, 4, 1] = 0.1 * np.sin(np.arange(n) / 10)
        write_session(
            root, subject, name, pose=pose, imu=rng.normal(size=(n, 3)),
            labels=np.arange(n) // 50 % 2, rate_hz=50.0, class_names=FOLDER_CLASSES,
            joint_names=FOLDER_JOINTS, valid=np.ones(n, bool),
        )  # fmt: skip


FOLDER_SPLIT = {"train": ["a"], "val": ["b"], "test": ["c"]}
FOLDER_KEYS = {
    "n_classes": 2, "joints": [2, 3, 4], "root_joint": 0, "torso_joints": [0, 1],
    "sampling_rate_hz": 50, "sensor_window_length": 32, "stride_seconds": 0.5, "batch_size": 8,
}  # fmt: skip


def _folder_overrides(root: Path, cache: Path) -> list[str]:
    keys = FOLDER_KEYS | {s: f"[{','.join(v)}]" for s, v in FOLDER_SPLIT.items()}
    values = {k: str(v).replace(" ", "") for k, v in keys.items()}
    return [
        "data=folder", f"data.data_dir={root}", f"data.cache_dir={cache}",
        *(f"data.{k}={v}" for k, v in values.items()), *TRIAL,
    ]  # fmt: skip


FOLDER = Format(
    name="folder",
    write=_folder_write,
    files=lambda root: sorted(root.glob("*/*.npz")),
    datamodule=lambda root, cache: FolderDataModule(
        data_dir=root, cache_dir=cache, **FOLDER_KEYS, **FOLDER_SPLIT
    ),
    overrides=_folder_overrides,
    session_of=lambda path: f"{path.parent.name}/{path.stem}",
    rename=lambda path: path.with_name(f"{path.stem}_copy.npz"),
)


# ---- UTD-MHAD: .mat pairs ---------------------------------------------------------------------
def _utd_write(root: Path) -> None:
    from tests.data.test_utd import write_clip

    for action in (1, 2):
        for subject in (1, 2, 3):
            write_clip(root, action, subject, 1, seed=10 * action + subject)


UTD_KEYS = {
    "actions": [1, 2], "n_classes": 2, "train_subjects": [1], "val_subjects": [3],
    "test_subjects": [2], "batch_size": 4,
}  # fmt: skip


def _utd_overrides(root: Path, cache: Path) -> list[str]:
    return [
        "data=utd", f"data.data_dir={root}", f"data.cache_dir={cache}",
        *(f"data.{k}={str(v).replace(' ', '')}" for k, v in UTD_KEYS.items()), *TRIAL,
    ]  # fmt: skip


UTD = Format(
    name="utd",
    write=_utd_write,
    files=lambda root: sorted(root.glob("*/*.mat")),
    datamodule=lambda root, cache: UTDDataModule(data_dir=root, cache_dir=cache, **UTD_KEYS),
    overrides=_utd_overrides,
    session_of=lambda path: path.stem.rsplit("_", 1)[0],
    rename=lambda path: path.parent.parent / path.name,  # a second copy beside the folders
)


# ---- NTU RGB+D: .skeleton text (pose-only) -------------------------------------------------------
NTU_SAMPLES = (
    "S001C001P001R001A023", "S001C002P001R001A010", "S001C001P003R001A023",
    "S001C001P003R001A010", "S001C001P038R001A023", "S001C001P038R001A010",
)  # fmt: skip


NTU_KEYS = {
    "actions": [10, 23], "n_classes": 2, "missing_skeletons": None, "batch_size": 4,
    "sensor_window_length": 64,
}  # fmt: skip


def _ntu_write(root: Path) -> None:
    from tests.data.test_ntu import ACTOR_ID, person, tracked

    actor = person(60, arm_speed=1.0)
    text = skeleton_text([[(ACTOR_ID, actor[k], tracked(actor[k]))] for k in range(60)])
    folder = root / "nturgb+d_skeletons"
    folder.mkdir(parents=True)
    for name in NTU_SAMPLES:
        (folder / f"{name}.skeleton").write_text(text)


NTU = Format(
    name="ntu",
    write=_ntu_write,
    files=lambda root: sorted(root.glob("*/*.skeleton")),
    datamodule=lambda root, cache: NTUDataModule(**NTU_KEYS, data_dir=root, cache_dir=cache),
    overrides=None,
    session_of=lambda path: path.stem,
    rename=lambda path: path.parent.parent / "more" / path.name,  # the same sample twice
)


# ---- the watch data set: one pickled dict (IMU-only) ------------------------------------------------
WATCH_KEYS = {
    "n_classes": 2, "sampling_rate_hz": 50, "sensor_window_length": 32, "batch_size": 8,
    "train_subjects": [1], "val_subjects": [2], "test_subjects": [3],
}  # fmt: skip
SMALL_MODEL = ["model.feature_extractor.n_filters=8", "model.feature_extractor.out_features=32"]


def _watch_overrides(root: Path, cache: Path) -> list[str]:
    return [
        "data=watch", f"data.data_dir={root / WATCH_FILE}", f"data.cache_dir={cache}",
        *(f"data.{k}={str(v).replace(' ', '')}" for k, v in WATCH_KEYS.items()),
        "scenario=real_only", *SMALL_MODEL,  # IMU-only: F + C, no regressor
        *(o for o in TRIAL if not o.startswith("scenario=")),
    ]  # fmt: skip


def _watch_write(root: Path) -> None:
    save_watch_file(root / WATCH_FILE, watch_content())


WATCH = Format(
    name="watch",
    write=_watch_write,
    files=lambda root: [root / WATCH_FILE],
    datamodule=lambda root, cache: WatchDataModule(
        data_dir=root / WATCH_FILE, cache_dir=cache, **WATCH_KEYS
    ),
    overrides=_watch_overrides,
    session_of=lambda path: path.name,
)

FORMATS = {f.name: f for f in (MMFIT, FOLDER, UTD, NTU, WATCH)}
