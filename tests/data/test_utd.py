"""UTD-MHAD: hand-written minimal files for each quirk, the clip rule, the synthetic tree, a trial."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from omegaconf import OmegaConf

from har.data.sources.utd import (
    ACTION_NAMES,
    KNOWN_MISSING,
    UTDDataModule,
    align_clip,
    find_clips,
    read_clip,
)
from har.data.twin.utd import ensure_utd_twin
from har.errors import ConfigError, DataError
from tests.conftest import run_trial_cli

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
G = 9.80665
# Kinect v1 standing skeleton (metres, Kinect space: y up): hip centre (3) 0.5 m below the
# shoulder centre (1); right arm 8/9/10.
STANDING = np.array(
    [[0, 0.6, 3], [0, 0.45, 3], [0, 0.2, 3], [0, -0.05, 3], [0.18, 0.42, 3], [0.2, 0.15, 3],
     [0.21, -0.1, 3], [0.21, -0.17, 3], [-0.18, 0.42, 3], [-0.2, 0.15, 3], [-0.21, -0.1, 3],
     [-0.21, -0.17, 3], [0.1, -0.08, 3], [0.1, -0.5, 3], [0.1, -0.9, 3], [0.1, -0.95, 2.9],
     [-0.1, -0.08, 3], [-0.1, -0.5, 3], [-0.1, -0.9, 3], [-0.1, -0.95, 2.9]],
)  # fmt: skip


def write_clip(
    root: Path,
    action: int,
    subject: int,
    trial: int,
    *,
    samples: int = 120,
    frames: int = 72,
    folders: tuple[str, str] = ("Inertial", "Skeleton"),
    modalities: tuple[str, ...] = ("inertial", "skeleton"),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One clip as published: d_iner (T, 6) in g and deg/s; d_skel (20, 3, T_s)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 50.0
    iner = np.column_stack(
        [np.sin(t + seed), np.cos(t), 1.0 + 0.1 * np.sin(3 * t), rng.normal(0, 20, (samples, 3))]
    )
    skel = np.repeat(STANDING[:, :, None], frames, axis=2).copy()
    skel[10, 0, :] += np.linspace(0.0, 0.3, frames)  # the right wrist moves sideways
    name = f"a{action}_s{subject}_t{trial}"
    for modality, folder, key, value in (
        ("inertial", folders[0], "d_iner", iner),
        ("skeleton", folders[1], "d_skel", skel),
    ):
        if modality in modalities:
            (root / folder).mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(root / folder / f"{name}_{modality}.mat", {key: value})
    return iner, skel


def tiny_tree(root: Path) -> None:
    """Actions 1 and 2, subjects 1-3, trial 1; quirks: flat files, one half clip, long/short clips."""
    for action in (1, 2):
        for subject in (1, 2, 3):
            write_clip(root, action, subject, 1, seed=10 * action + subject)
    write_clip(root, 1, 1, 2, samples=60, frames=36, folders=(".", "."))  # flat, shorter than 2 s
    write_clip(root, 2, 1, 2, samples=300, frames=180, folders=("Inertial", "."))  # mixed, long
    write_clip(root, 2, 3, 2, modalities=("inertial",))  # skeleton missing: left out, named


def dm_kwargs(root: Path, cache: Path | None, **overrides) -> dict:
    kwargs = {
        "data_dir": root, "cache_dir": cache, "actions": [1, 2], "n_classes": 2,
        "train_subjects": [1], "val_subjects": [3], "test_subjects": [2], "batch_size": 4,
    }  # fmt: skip
    return kwargs | overrides


def test_find_clips_reads_every_folder_variant(tmp_path):
    tiny_tree(tmp_path)
    clips = find_clips(tmp_path)
    assert clips[(1, 1, 2)].inertial == tmp_path / "a1_s1_t2_inertial.mat"
    assert clips[(2, 1, 2)].skeleton == tmp_path / "a2_s1_t2_skeleton.mat"
    assert clips[(2, 1, 2)].inertial == tmp_path / "Inertial" / "a2_s1_t2_inertial.mat"
    assert clips[(2, 3, 2)].skeleton is None and len(clips) == 9
    scipy.io.savemat(
        tmp_path / "Skeleton" / "a1_s1_t2_skeleton.mat", {"d_skel": STANDING[..., None]}
    )
    with pytest.raises(DataError, match="a1_s1_t2 has two skeleton files"):
        find_clips(tmp_path)


def test_read_clip_checks_shapes_and_keys(tmp_path):
    iner, skel = write_clip(tmp_path, 5, 1, 1, folders=(".", "."))
    got_iner, got_skel = read_clip(
        tmp_path / "a5_s1_t1_inertial.mat", tmp_path / "a5_s1_t1_skeleton.mat"
    )
    np.testing.assert_array_equal(got_iner, iner)
    np.testing.assert_array_equal(got_skel, skel.transpose(2, 0, 1))
    scipy.io.savemat(tmp_path / "bad_inertial.mat", {"d_iner": np.zeros((50, 3))})
    with pytest.raises(DataError, match=r"bad_inertial.mat: d_iner has shape \(50, 3\)"):
        read_clip(tmp_path / "bad_inertial.mat", tmp_path / "a5_s1_t1_skeleton.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"depth": np.zeros((2, 2))})
    with pytest.raises(DataError, match=r"other.mat holds no 'd_skel' \(found: depth\)"):
        read_clip(tmp_path / "a5_s1_t1_inertial.mat", tmp_path / "other.mat")
    (tmp_path / "junk_skeleton.mat").write_text("not a mat file")
    with pytest.raises(DataError, match=r"junk_skeleton.mat is not a readable \.mat file"):
        read_clip(tmp_path / "a5_s1_t1_inertial.mat", tmp_path / "junk_skeleton.mat")


def test_alignment_stretches_the_skeleton_and_converts_units_and_axes(tmp_path):
    iner, skel = write_clip(tmp_path, 1, 1, 1, samples=101, frames=61)
    session = align_clip(
        "a1_s1_t1", 1, 0, iner, skel.transpose(2, 0, 1), 50.0, (0, 1, 2, 3, 4, 5), "si"
    )
    assert len(session) == 101 and session.valid.all() and session.labels.tolist() == [0] * 101
    np.testing.assert_allclose(session.acc[:, :3], iner[:, :3] * G, rtol=1e-6)
    np.testing.assert_allclose(session.acc[:, 3:], np.deg2rad(iner[:, 3:]), rtol=1e-5, atol=1e-5)
    # 61 frames spread over the 2 s of inertial samples: the wrist's x ramp ends exactly at 2 s,
    # and Kinect space (x left, y up) turns into the pose frame (x right, y down).
    wrist_x = -(STANDING[10, 0] + np.linspace(0.0, 0.3, 101))
    np.testing.assert_allclose(session.pose[:, 10, 0], wrist_x, atol=1e-6)
    np.testing.assert_allclose(session.pose[:, 0, 1], -STANDING[0, 1], atol=1e-6)
    np.testing.assert_allclose(session.pose[:, 0, 2], STANDING[0, 2], atol=1e-6)
    raw = align_clip("x", 1, 0, iner, skel.transpose(2, 0, 1), 50.0, (0, 1, 2), "raw")
    np.testing.assert_allclose(raw.acc, iner[:, :3], rtol=1e-6)
    assert session.report["skeleton_fps_implied"] == 30.0


def test_frames_without_a_body_are_interpolated_and_long_gaps_invalid(tmp_path):
    iner, skel = write_clip(tmp_path, 1, 1, 1, samples=151, frames=91)
    skel = skel.transpose(2, 0, 1).copy()
    skel[20] = 0.0  # one lost frame: interpolated
    skel[40:60] = 0.0  # 20 frames (0.67 s): a hole no window may cover
    session = align_clip("a1_s1_t1", 1, 0, iner, skel, 50.0, (0, 1, 2), "si")
    assert session.report["skeleton_frames_without_body"] == 21
    t = np.arange(151) / 50.0
    hole = (t > 39 / 30 + 0.25) & (t < 60 / 30 - 0.25)
    assert not session.valid[hole].any() and session.valid[t < 1.0].all()
    np.testing.assert_allclose(
        session.pose[(t > 0.6) & (t < 0.75), 0, 1], -STANDING[0, 1], atol=1e-6
    )


def test_datamodule_clip_rule_pads_by_edge_replication_and_crops_the_centre(tmp_path, caplog):
    tiny_tree(tmp_path / "raw")
    with caplog.at_level(logging.WARNING):
        dm = UTDDataModule(**dm_kwargs(tmp_path / "raw", tmp_path / "cache"))
        dm.setup()
    assert "a2_s3_t2" in dm.source.skipped["val"]
    assert any("only one of inertial/skeleton: a2_s3_t2" in r.getMessage() for r in caplog.records)
    assert dm.class_names == ACTION_NAMES[:2] and dm.num_classes == 2
    assert [s.workout for s in dm.sessions["train"]] == [
        "a1_s1_t1",
        "a1_s1_t2",
        "a2_s1_t1",
        "a2_s1_t2",
    ]
    assert dm.window_counts == {"train": [2, 2], "val": [1, 1], "test": [1, 1]}
    assert dm.padded_windows == {"train": 1, "val": 0, "test": 0}

    batch = dm.datasets["train"].__getitems__([0, 1, 3])
    assert set(batch) == {"pose", "acc", "label", "mask"}
    assert batch["pose"].shape == (3, 3, 3, 100) and batch["acc"].shape == (3, 3, 100)
    short, long = dm.sessions["train"][1], dm.sessions["train"][3]
    # The 60-sample clip fills a 100-sample window: 20 replicated samples either side.
    mask = batch["mask"][1]
    assert mask.sum() == 60 and not mask[:20].any() and not mask[80:].any()
    acc = torch.from_numpy(dm.acc_stats.apply(short.acc))
    torch.testing.assert_close(batch["acc"][1, :, :20], acc[0][:, None].expand(3, 20))
    torch.testing.assert_close(batch["acc"][1, :, 20:80], acc.T)
    torch.testing.assert_close(batch["acc"][1, :, 80:], acc[-1][:, None].expand(3, 20))
    # The 300-sample clip is cropped to its central 100 samples.
    assert batch["mask"][2].all()
    torch.testing.assert_close(
        batch["acc"][2], torch.from_numpy(dm.acc_stats.apply(long.acc[100:200])).T
    )
    assert batch["label"].tolist() == [0, 0, 1]

    sliding = UTDDataModule(
        **dm_kwargs(tmp_path / "raw", tmp_path / "cache", clip_windows="sliding")
    )
    sliding.setup()
    # Stride 0.5 s = 25 samples: a 120-sample clip holds one window (start 0), the 60-sample clip
    # its one padded window, the 300-sample clip nine (starts 0, 25, ..., 200).
    assert sliding.window_counts["train"] == [1 + 1, 1 + 9]


def test_config_checks_name_their_key(tmp_path):
    tiny_tree(tmp_path)
    with pytest.raises(DataError, match="subjects 1 are in both train and test"):
        UTDDataModule(**dm_kwargs(tmp_path, None, test_subjects=[1, 2]))
    with pytest.raises(ConfigError, match=r"data\.actions"):
        UTDDataModule(**dm_kwargs(tmp_path, None, actions=[0, 28]))
    with pytest.raises(ConfigError, match=r"data\.sensors"):
        UTDDataModule(**dm_kwargs(tmp_path, None, sensors=["mag"]))
    with pytest.raises(ConfigError, match=r"data.joints holds \[8, 20\].*20 joints"):
        UTDDataModule(**dm_kwargs(tmp_path, None, joints=[8, 20]))
    with pytest.raises(DataError, match="data=utd_synth"):
        UTDDataModule(**dm_kwargs(tmp_path / "nowhere", None)).setup()
    gyro = UTDDataModule(**dm_kwargs(tmp_path, None, sensors=["acc", "gyr"], actions="wrist"))
    assert gyro.num_classes == 21
    with pytest.raises(DataError, match="split 'train' has no usable session"):
        UTDDataModule(**dm_kwargs(tmp_path, None, actions=[3])).setup()


def test_synthetic_tree_has_the_published_layout_and_physics(tmp_path, caplog):
    root = ensure_utd_twin(tmp_path / "utd", subjects=3, trials=1, seed=0)
    inertial = sorted(p.name for p in (root / "Inertial").iterdir())
    assert len(inertial) == 27 * 3 and "a27_s3_t1_inertial.mat" in inertial
    assert len(list((root / "Skeleton").iterdir())) == 27 * 3
    iner, skel = read_clip(
        root / "Inertial" / "a3_s2_t1_inertial.mat", root / "Skeleton" / "a3_s2_t1_skeleton.mat"
    )
    assert 107 <= len(iner) <= 326 and 0.55 < len(skel) / len(iner) < 0.65
    assert np.linalg.norm(iner[:10, :3], axis=1).mean() == pytest.approx(
        1.0, abs=0.05
    )  # at rest: 1 g
    assert np.abs(iner[:, 3:]).max() > 100  # waving turns the wrist by hundreds of deg/s
    with caplog.at_level(logging.WARNING):
        dm = UTDDataModule(**dm_kwargs(root, tmp_path / "cache", actions="all", n_classes=27))
        dm.setup()
    assert not [r for r in caplog.records if "absent" in r.getMessage()]
    assert {split: len(s) for split, s in dm.sessions.items()} == {
        "train": 27,
        "val": 27,
        "test": 27,
    }
    assert dm.window_counts["train"] == [1] * 27
    rest = dm.sessions["train"][0].acc[:10]  # si units: 1 g = 9.81 m/s²
    assert np.linalg.norm(rest, axis=1).mean() == pytest.approx(G, rel=0.05)


def test_known_missing_clips_are_not_reported(tmp_path, caplog):
    for action, subject, trial in [(8, 1, 3), (9, 1, 4), (8, 2, 4), *KNOWN_MISSING]:
        if (action, subject, trial) not in KNOWN_MISSING:
            write_clip(tmp_path, action, subject, trial)
    with caplog.at_level(logging.WARNING):
        dm = UTDDataModule(
            **dm_kwargs(
                tmp_path,
                None,
                actions=[8, 9],
                n_classes=2,
                train_subjects=[1],
                val_subjects=[2],
                test_subjects=[3],
            )
        )
        with pytest.raises(DataError, match="split 'test' has no usable session"):
            dm.setup()
    (absent,) = [r.getMessage() for r in caplog.records if "absent" in r.getMessage()]
    assert "a8_s1_t4" not in absent and "a9_s1_t3" in absent and "a8_s2_t3" in absent


@pytest.mark.slow
def test_run_trial_on_utd_synth_writes_results(tmp_path):
    run = run_trial_cli(
        ["data=utd_synth", "scenario=debug", "trainer.epochs=1", "trainer.limit_train_batches=5",
         "trainer.limit_val_batches=2", "trainer.limit_test_batches=2"],
        tmp_path / "run",
    )  # fmt: skip
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    results = run.results
    assert results["status"] == "completed"
    assert results["data"]["class_names"] == list(ACTION_NAMES[:21])
    assert sum(results["data"]["window_counts"]["test"]) == 21 * 4 * 4
    assert 0.0 <= results["final_metrics"]["test_f1"] <= 1.0


def test_constructor_takes_exactly_the_config_keys():
    keys = set(OmegaConf.load(CONF / "utd.yaml")) - {"_target_"}
    assert set(inspect.signature(UTDDataModule).parameters) == keys
