"""Bring-your-own folder format: writer, reader, checks, conversion of MM-Fit, a trial on it."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmfit_writer import tiny_datamodule_kwargs, write_tiny_dataset
from omegaconf import OmegaConf

from har.data.sources.folder import FolderDataModule, export, write_session
from har.data.sources.mmfit.format import CLASS_NAMES
from har.data.sources.mmfit.source import MMFitDataModule
from har.errors import ConfigError, DataError
from tests.conftest import TEST_CACHE_DIR, TEST_DATA_DIR, compose_config, run_trial_cli

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
NAMES = ("rest", "wave")
JOINTS = ("hip", "neck", "shoulder", "elbow", "wrist")


def session_arrays(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    pose = np.zeros((n, 5, 3))
    pose[:, 1, 1] = -0.5  # neck 0.5 m above the hip (y down)
    pose[:, 2:, 0] = [0.2, 0.3, 0.4]
    pose[:, 4, 1] = 0.1 * np.sin(np.arange(n) / 10)
    labels = np.where(np.arange(n) // 100 % 2 == 0, 0, 1)
    return {
        "pose": pose,
        "imu": rng.normal(size=(n, 3)) + np.array([0.0, 0.0, 9.81]),
        "labels": labels,
    }


def folder_kwargs(root, cache=None, **overrides) -> dict:
    kwargs = {
        "data_dir": root, "cache_dir": cache, "n_classes": 2, "joints": [2, 3, 4], "root_joint": 0,
        "torso_joints": [0, 1], "sampling_rate_hz": 50, "sensor_window_length": 50,
        "stride_seconds": 0.5, "batch_size": 4, "train": ["a"], "val": ["b/s1"], "test": ["b/s2"],
    }  # fmt: skip
    return kwargs | overrides


def write_three(root, rate_hz: float = 50.0, n: int = 400) -> None:
    for i, (subject, name) in enumerate([("a", "s1"), ("b", "s1"), ("b", "s2")]):
        write_session(
            root,
            subject,
            name,
            rate_hz=rate_hz,
            class_names=NAMES,
            joint_names=JOINTS,
            **session_arrays(n, i),
        )


def test_roundtrip_windows_labels_and_standardisation(tmp_path):
    write_three(tmp_path / "raw")
    dm = FolderDataModule(**folder_kwargs(tmp_path / "raw", tmp_path / "cache"))
    dm.setup()
    assert dm.class_names == NAMES and dm.source.joint_names == JOINTS and dm.imu_channels == 3
    assert [s.workout for s in dm.sessions["train"]] == ["a/s1"]
    assert dm.sessions["train"][0].participant == "a"
    # 400 samples, windows of 50 every 25: starts 0..350 (15); the centre sample's label.
    starts = np.arange(0, 351, 25)
    expected = np.bincount(np.where((starts + 25) // 100 % 2 == 0, 0, 1), minlength=2).tolist()
    assert dm.window_counts["train"] == expected
    acc = dm.datasets["train"].acc.numpy()
    np.testing.assert_allclose(acc.mean(axis=0), 0.0, atol=1e-5)
    batch = dm.datasets["val"].__getitems__([1])
    assert set(batch) == {"pose", "acc", "label"}
    raw = session_arrays(400, 1)
    # Pose: scaled by the 0.5 m torso, centred on the hip at the window's centre sample.
    np.testing.assert_allclose(
        batch["pose"][0, 2, 1].numpy(), raw["pose"][25:75, 4, 1] / 0.5, atol=1e-6
    )


def test_rate_is_resampled_and_unlabelled_samples_are_left_out(tmp_path):
    write_three(tmp_path / "raw", rate_hz=25.0, n=200)
    arrays = session_arrays(200)
    arrays["labels"][:100] = -1  # the first half is unlabelled
    write_session(
        tmp_path / "raw", "a", "s1", rate_hz=25.0, class_names=NAMES, joint_names=JOINTS, **arrays
    )
    dm = FolderDataModule(
        **folder_kwargs(tmp_path / "raw", None, joints=[2, 3, 4], torso_joints=[0, 1])
    )
    dm.setup()
    session = dm.sessions["train"][0]
    assert len(session) == 1 + round(199 / 25 * 50) and session.rate_hz == 50
    np.testing.assert_array_equal(session.labels[::2][:-1], arrays["labels"][:-1])
    # Windows centred on unlabelled samples are left out: centres from sample 200 (4 s) on.
    starts = dm.windows["train"].start
    assert (starts + 25 >= 199).all() and len(starts) == len(range(175, len(session) - 49, 25))


def test_the_layout_is_checked_with_messages_naming_the_file(tmp_path):
    root = tmp_path / "raw"
    with pytest.raises(DataError, match=r"a/bad: pose has shape \(10, 5\)"):
        write_session(
            root,
            "a",
            "bad",
            pose=np.zeros((10, 5)),
            labels=np.zeros(10),
            rate_hz=50,
            class_names=NAMES,
        )
    with pytest.raises(DataError, match=r"labels lie in 0\.\.2, expected -1\.\.1"):
        write_session(
            root,
            "a",
            "bad",
            pose=np.zeros((3, 5, 3)),
            labels=[0, 1, 2],
            rate_hz=50,
            class_names=NAMES,
        )
    write_three(root)
    write_session(root, "c", "odd", rate_hz=50, class_names=("x", "y"), **session_arrays(100))
    with pytest.raises(DataError, match=r"c/odd.npz: class_names differ"):
        FolderDataModule(**folder_kwargs(root)).setup()
    (root / "c" / "odd.npz").unlink()
    with pytest.raises(DataError, match="lists 'zz', which matches no"):
        FolderDataModule(**folder_kwargs(root, test=["zz"])).setup()
    with pytest.raises(DataError, match="session b/s1 is in both val and test"):
        FolderDataModule(**folder_kwargs(root, test=["b"])).setup()
    with pytest.raises(ConfigError, match=r"splits\.json does not exist"):
        FolderDataModule(**folder_kwargs(root, test=None)).setup()
    (root / "splits.json").write_text(json.dumps({"test": ["b/s2"]}))
    FolderDataModule(**folder_kwargs(root, test=None)).setup()  # the missing part from the file


def test_pose_only_sessions_are_left_out_of_paired_training_and_named(tmp_path):
    write_three(tmp_path / "raw")
    arrays = session_arrays(300)
    del arrays["imu"]
    write_session(
        tmp_path / "raw",
        "a",
        "video_only",
        rate_hz=50,
        class_names=NAMES,
        joint_names=JOINTS,
        **arrays,
    )
    dm = FolderDataModule(**folder_kwargs(tmp_path / "raw"))
    dm.setup()
    assert dm.source.skipped["train"] == ["a/video_only"]
    pose_only = FolderDataModule(**folder_kwargs(tmp_path / "raw", pose_only=True))
    pose_only.setup()
    assert [s.workout for s in pose_only.sessions["train"]] == ["a/s1", "a/video_only"]
    assert "acc" not in pose_only.datasets["train"].__getitems__([0])


def test_a_converted_mmfit_tree_gives_the_same_batches(tmp_path):
    write_tiny_dataset(tmp_path / "mmfit")
    mmfit = MMFitDataModule(**tiny_datamodule_kwargs(tmp_path / "mmfit", tmp_path / "cache"))
    out = export(mmfit, tmp_path / "folder")
    splits = json.loads((out / "splits.json").read_text())
    assert splits == {"train": ["0/w01", "1/w02"], "val": ["0/w14"], "test": ["1/w09"]}
    mmfit.setup()
    folder = FolderDataModule(
        data_dir=out, cache_dir=tmp_path / "cache", sampling_rate_hz=50, sensor_window_length=32,
        batch_size=8, n_classes=11,
    )  # fmt: skip
    folder.setup()
    assert folder.class_names == CLASS_NAMES and folder.window_counts == mmfit.window_counts
    for split in ("train", "test"):
        ours, theirs = (dm.datasets[split].__getitems__(list(range(8))) for dm in (folder, mmfit))
        for key in ("pose", "acc", "label"):
            torch.testing.assert_close(ours[key], theirs[key])


@pytest.mark.slow
def test_run_trial_on_a_converted_tree_writes_results(tmp_path):
    cfg = compose_config(
        ["data=mmfit_debug", f"env.data_dir={TEST_DATA_DIR}", f"env.cache_dir={TEST_CACHE_DIR}"]
    )
    from hydra.utils import instantiate

    out = export(instantiate(cfg.data, _recursive_=False), tmp_path / "tree")
    run = run_trial_cli(
        ["data=folder", f"data.data_dir={out}", "scenario=debug", "trainer.epochs=1",
         "trainer.limit_train_batches=5", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2"],
        tmp_path / "run",
    )  # fmt: skip
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    results = run.results
    assert results["status"] == "completed"
    assert results["data"]["class_names"] == list(CLASS_NAMES)
    assert sum(results["data"]["window_counts"]["train"]) > 100


def test_constructor_takes_exactly_the_config_keys():
    keys = set(OmegaConf.load(CONF / "folder.yaml")) - {"_target_"}
    assert set(inspect.signature(FolderDataModule).parameters) == keys


def test_imu_only_sessions_train_without_pose_and_are_named(tmp_path):
    """A session without ``pose`` drops pose for the data set: batches carry IMU and labels only."""
    write_three(tmp_path / "raw")
    arrays = session_arrays(300, 3)
    del arrays["pose"]
    write_session(tmp_path / "raw", "a", "watch_only", rate_hz=25, class_names=NAMES, **arrays)
    dm = FolderDataModule(**folder_kwargs(tmp_path / "raw", train=["a"]))
    dm.setup()
    assert dm.sessions_without_pose == ["a/watch_only"] and not dm.has_pose
    session = dm.sessions["train"][1]
    assert session.pose.shape == (len(session), 0, 3) and len(session) == 1 + 299 * 2  # 25 -> 50 Hz
    batch = dm.datasets["train"].__getitems__([0, 1])
    assert set(batch) == {"acc", "label"}
    # Every session IMU-only: no joint layout at all, so the pose keys are not checked either.
    only = tmp_path / "imu_only"
    for subject, name in [("a", "s1"), ("b", "s1"), ("b", "s2")]:
        write_session(only, subject, name, rate_hz=50, class_names=NAMES, **arrays)
    imu_only = FolderDataModule(**folder_kwargs(only, joints=[7, 8, 9]))
    imu_only.setup()
    assert imu_only.source.joint_names == () and len(imu_only.sessions_without_pose) == 3
    with pytest.raises(DataError, match="neither pose nor an IMU stream"):
        write_session(only, "c", "empty", labels=np.zeros(10), rate_hz=50, class_names=NAMES)


def test_named_streams_are_read_in_the_order_data_sensors_lists_them(tmp_path):
    root = tmp_path / "raw"
    for i, (subject, name) in enumerate([("a", "s1"), ("b", "s1"), ("b", "s2")]):
        arrays = session_arrays(200, i)
        acc, gyr = arrays.pop("imu"), np.full((200, 3), float(i))
        streams = {"sw_l_acc": acc, "sw_l_gyr": gyr}
        write_session(root, subject, name, rate_hz=50, class_names=NAMES, imu=streams, **arrays)
    write_session(root, "a", "acc_only", rate_hz=50, class_names=NAMES, **session_arrays(200))
    dm = FolderDataModule(**folder_kwargs(root, sensors=["sw_l_gyr", "sw_l_acc"]))
    dm.setup()
    assert dm.imu_channels == 6 and dm.source.skipped["train"] == ["a/acc_only"]
    session = dm.sessions["val"][0]  # b/s1
    np.testing.assert_allclose(session.acc[:, :3], 1.0)
    np.testing.assert_allclose(session.acc[:, 3:], session_arrays(200, 1)["imu"], rtol=1e-6)


def test_export_keeps_several_streams_as_named_arrays(tmp_path):
    root = tmp_path / "raw"
    for i, (subject, name) in enumerate([("a", "s1"), ("b", "s1"), ("b", "s2")]):
        arrays = session_arrays(200, i)
        streams = {"sw_l_acc": arrays.pop("imu"), "sw_l_gyr": np.full((200, 3), float(i))}
        write_session(root, subject, name, rate_hz=50, class_names=NAMES, imu=streams, **arrays)
    two = folder_kwargs(root, sensors=["sw_l_acc", "sw_l_gyr"])
    out = export(FolderDataModule(**two), tmp_path / "out")
    assert set(np.load(out / "b" / "s1.npz").files) >= {"sw_l_acc", "sw_l_gyr", "pose"}
    again = FolderDataModule(**two | {"data_dir": out})
    again.prepare_data()
    np.testing.assert_allclose(again.sessions["val"][0].acc[:, 3:], 1.0)


def test_a_scenario_that_needs_pose_names_the_imu_only_sessions(tmp_path):
    from tests.bad_inputs.entrypoint import assert_user_error, run_in_process

    for subject, name in [("a", "s1"), ("b", "s1"), ("b", "s2")]:
        arrays = session_arrays(200)
        del arrays["pose"]
        write_session(tmp_path / "raw", subject, name, rate_hz=50, class_names=NAMES, **arrays)
    overrides = [
        "data=folder", f"data.data_dir={tmp_path / 'raw'}", f"env.cache_dir={tmp_path / 'cache'}",
        "data.n_classes=2", "data.sampling_rate_hz=50", "data.sensor_window_length=50",
        "data.train=[a]", "data.val=[b/s1]", "data.test=[b/s2]", "scenario=debug",
    ]  # fmt: skip
    outcome = run_in_process(overrides, tmp_path / "run")
    assert_user_error(
        outcome, "scenario=debug", "a/s1, b/s1, b/s2", "no pose", "scenario=real_only"
    )
