"""NTU RGB+D: hand-written .skeleton files for each quirk, the shipped lists, the synthetic tree."""

from __future__ import annotations

import csv
import inspect
import logging
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from har.data.inspect import summarise
from har.data.sources.ntu import source as ntu
from har.data.sources.ntu.skeleton_file import main_body, parse_skeleton
from har.data.sources.ntu.source import NTUDataModule, action_names, read_sample_list
from har.data.twin.ntu import ensure_ntu_twin, skeleton_text
from har.errors import ConfigError, DataError
from har.training.validate import validate_config
from tests.conftest import compose_config, run_trial_cli

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
ACTOR_ID, BYSTANDER_ID, FURNITURE_ID = 72057594037931101, 72057594037931102, 72057594037931177


def person(n: int, sway: float = 0.0, arm_speed: float = 1.0, x0: float = 0.0) -> np.ndarray:
    """(n, 25, 3) Kinect-space joints of a standing person (taller than wide); the left wrist
    (joint 6) swings sideways by ``arm_speed`` m/s-ish, the body sways by ``sway`` metres."""
    base = np.zeros((25, 3))
    base[:, 1] = np.linspace(0.7, -0.9, 25)  # spread over 1.6 m height
    base[:, 0] = x0 + np.where(np.arange(25) % 2, 0.15, -0.15)
    base[:, 2] = 3.0
    joints = np.repeat(base[None], n, axis=0)
    joints[:, :, 0] += sway * np.sin(np.arange(n) / 5.0)[:, None]
    joints[:, 6, 0] += 0.02 * arm_speed * np.arange(n)
    return joints


def write_sample(
    folder: Path, name: str, frames: list[list[tuple[int, np.ndarray, np.ndarray]]]
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.skeleton"
    path.write_text(skeleton_text(frames))
    return path


def tracked(joints: np.ndarray) -> np.ndarray:
    return np.full(len(joints), 2)


def test_shipped_missing_skeleton_lists():
    ntu60, ntu120 = read_sample_list("ntu60"), read_sample_list("ntu120")
    assert len(ntu60) == 302 and len(ntu120) == 535 and ntu60 < ntu120
    assert {"S001C002P005R002A008", "S017C003P020R001A059"} <= ntu60
    assert "S032C003P067R002A077" in ntu120 - ntu60
    assert len(action_names()) == 120 and action_names()[22] == "hand waving"


def test_an_official_list_file_can_be_dropped_in_as_is(tmp_path):
    official = tmp_path / "NTU_RGBD_samples_with_missing_skeletons.txt"
    official.write_text(
        '302 of the captured samples in the "NTU RGB+D" dataset have missing or incomplete '
        "skeleton data.\nIf you are working on skeleton-based analysis, please ignore these files.\n"
        "\nS001C002P005R002A008\nS001C002P006R001A008\r\n"
    )
    assert read_sample_list(official) == {"S001C002P005R002A008", "S001C002P006R001A008"}
    with pytest.raises(DataError, match=r"missing-skeleton list .*nope\.txt does not exist"):
        read_sample_list(tmp_path / "nope.txt")


def test_parser_reads_bodies_frames_and_tracking_states(tmp_path):
    actor = person(30, arm_speed=1.0)
    states = np.full((30, 25), 2)
    states[5, 6] = 0
    frames = [[] for _ in range(2)]  # two body-less frames first
    frames += [[(ACTOR_ID, actor[k], states[k])] for k in range(30)]
    path = write_sample(tmp_path, "S001C001P001R001A023", frames)
    n_frames, tracks = parse_skeleton(path)
    assert n_frames == 32 and list(tracks) == [str(ACTOR_ID)]
    track = tracks[str(ACTOR_ID)]
    np.testing.assert_array_equal(track.frames, np.arange(2, 32))
    np.testing.assert_allclose(track.joints, actor, atol=1e-6)
    assert track.tracking[5, 6] == 0 and track.tracking.sum() == 2 * 30 * 25 - 2


def test_main_body_is_the_moving_person_not_a_bystander_or_furniture(tmp_path):
    n = 40
    actor, bystander = person(n, arm_speed=1.0), person(n, sway=0.002, x0=1.2)
    furniture = np.column_stack([np.linspace(-0.6, 0.6, 25), np.zeros(25), np.full(25, 3.8)])
    moving_furniture = furniture[None] + np.linspace(0, 1.0, n)[:, None, None]  # wide, moves most
    frames = [
        [(BYSTANDER_ID, bystander[k], tracked(bystander[k])), (ACTOR_ID, actor[k], tracked(actor[k])),
         (FURNITURE_ID, moving_furniture[k], tracked(furniture))]
        for k in range(n)
    ]  # fmt: skip
    _, tracks = parse_skeleton(write_sample(tmp_path, "S001C001P001R001A023", frames))
    assert tracks[str(FURNITURE_ID)].is_noise() and not tracks[str(ACTOR_ID)].is_noise()
    assert tracks[str(FURNITURE_ID)].motion() > tracks[str(ACTOR_ID)].motion()
    chosen = main_body(tracks)
    np.testing.assert_allclose(chosen.joints, actor, atol=1e-6)


def test_sample_session_resamples_interpolates_and_marks_long_gaps(tmp_path):
    actor = person(90)
    states = np.full((90, 25), 2)
    states[10:13, 6] = 0  # the left wrist is lost for three frames (reported at +0.3 m)
    actor_reported = actor.copy()
    actor_reported[10:13, 6] += 0.3
    frames = [[(ACTOR_ID, actor_reported[k], states[k])] for k in range(90)]
    frames[30] = []  # one body-less frame: interpolated
    for k in range(50, 70):  # 20 frames: a hole
        frames[k] = []
    frames = [[], [], *frames]
    session = ntu.sample_session(write_sample(tmp_path, "S001C001P003R001A023", frames), 4, 60.0, 1)
    assert session.workout == "S001C001P003R001A023" and session.participant == 3
    assert session.acc.shape == (len(session), 0) and session.labels.tolist() == [4] * len(session)
    assert session.t0_ms == pytest.approx(2 / 30 * 1000)  # starts at the first frame with a body
    assert len(session) == 1 + round((91 - 2) / 30 * 60)
    t = session.t0_ms / 1000 + np.arange(len(session)) / 60.0
    hole = (t > 51 / 30 + 0.25) & (t < 72 / 30 - 0.25)
    assert not session.valid[hole].any() and session.valid[t < 1.5].all()
    # Kinect space -> pose frame: x and y flip; the lost wrist follows the true ramp.
    expected = -(actor[:, 6, 0])
    frame_t = (np.arange(90) + 2) / 30
    inside = t < 1.6
    np.testing.assert_allclose(
        session.pose[inside, 6, 0], np.interp(t[inside], frame_t, expected), atol=1e-6
    )
    np.testing.assert_allclose(session.pose[:, 0, 1], -actor[0, 0, 1], atol=1e-6)
    assert session.report["joints_below_tracking_state"] == 3
    kept = ntu.sample_session(tmp_path / "S001C001P003R001A023.skeleton", 4, 60.0, 0)
    assert kept.pose[np.argmin(np.abs(t - 11 / 30 - 2 / 30)), 6, 0] < expected[11] - 0.25


def test_truncated_and_body_less_files(tmp_path):
    path = write_sample(
        tmp_path, "S001C001P001R001A001", [[(ACTOR_ID, person(1)[0], np.full(25, 2))]] * 3
    )
    text = path.read_text().splitlines()
    path.write_text("\n".join(text[:-10]) + "\n")
    with pytest.raises(DataError, match=r"S001C001P001R001A001.skeleton is truncated"):
        parse_skeleton(path)
    empty = write_sample(tmp_path, "S001C001P001R001A002", [[] for _ in range(20)])
    assert ntu.sample_session(empty, 0, 100.0, 1) is None


def _tree(root: Path) -> None:
    """Six samples: performers 1 (train), 3 (test), 38 (val); one listed missing, one body-less."""
    actor = person(120)
    body = [[(ACTOR_ID, actor[k], tracked(actor[k]))] for k in range(120)]
    folder = root / "nturgb+d_skeletons"
    for name in (
        "S001C001P001R001A023",
        "S001C002P001R001A010",
        "S001C001P003R001A023",
        "S001C001P003R001A010",
        "S001C001P038R001A023",
        "S001C001P038R001A010",
    ):
        write_sample(folder, name, body)
    write_sample(folder, "S001C002P001R002A023", [[] for _ in range(50)])  # every frame body-less
    write_sample(folder, "S001C003P001R001A023", body)
    (root / "missing.txt").write_text("S001C003P001R001A023\n")
    write_sample(root / "nturgbd_skeletons_s018_to_s032", "S018C001P001R001A023", body)  # NTU-120


def test_pose_only_datamodule_on_hand_written_files(tmp_path, caplog, monkeypatch):
    _tree(tmp_path / "raw")
    kwargs = {
        "data_dir": tmp_path / "raw", "cache_dir": tmp_path / "cache", "actions": [10, 23],
        "n_classes": 2, "missing_skeletons": str(tmp_path / "raw" / "missing.txt"), "batch_size": 4,
    }  # fmt: skip
    real_parse = ntu.parse_skeleton

    def parse_unless_listed(path):
        assert "S001C003P001R001A023" not in path.name, "a listed sample was parsed"
        return real_parse(path)

    monkeypatch.setattr(ntu, "parse_skeleton", parse_unless_listed)
    with caplog.at_level(logging.WARNING):
        dm = NTUDataModule(**kwargs)
        dm.setup()
    assert dm.pose_only and dm.imu_channels == 0 and dm.acc_stats is None
    assert dm.class_names == ("clapping", "hand waving")
    assert {split: sorted(s.workout for s in group) for split, group in dm.sessions.items()} == {
        "train": ["S001C001P001R001A023", "S001C002P001R001A010"],
        "val": ["S001C001P038R001A010", "S001C001P038R001A023"],
        "test": ["S001C001P003R001A010", "S001C001P003R001A023"],
    }  # NTU-120's S018 sample is not part of ntu60
    assert dm.source.skipped["train"] == ["S001C003P001R001A023"]
    assert any("S001C002P001R002A023" in r.getMessage() for r in caplog.records)  # no body at all
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"pose", "label", "mask"}
    assert batch["pose"].shape == (2, 3, 3, 256) and batch["mask"].shape == (2, 256)
    # 120 frames at 30 fps -> 398 samples at 100 Hz: cropped to the central 256, nothing padded.
    assert bool(batch["mask"].all()) and sorted(batch["label"].tolist()) == [0, 1]
    summary = summarise(dm)
    assert summary["missing_modalities"] == "imu: every session (pose-only data set)"
    assert summary["splits"]["train"]["skipped_sessions"] == ["S001C003P001R001A023"]

    ntu120 = NTUDataModule(
        **kwargs | {"edition": "ntu120", "actions": [23], "n_classes": 1, "cache_dir": None}
    )
    ntu120.setup()
    assert "S018C001P001R001A023" in [s.workout for s in ntu120.sessions["train"]]


def test_config_checks(tmp_path):
    with pytest.raises(ConfigError, match="pose-only"):
        NTUDataModule(data_dir=tmp_path, pose_only=False)
    with pytest.raises(ConfigError, match=r"data\.actions"):
        NTUDataModule(data_dir=tmp_path, actions=[61])
    with pytest.raises(ConfigError, match=r"data\.split"):
        NTUDataModule(data_dir=tmp_path, split="cross_age")
    with pytest.raises(ConfigError, match=r"data\.joints holds \[4, 5, 25\]"):
        NTUDataModule(data_dir=tmp_path, joints=[4, 5, 25])
    with pytest.raises(DataError, match="data=ntu_synth"):
        NTUDataModule(data_dir=tmp_path / "nowhere").setup()
    # A trial on pose-only data alone is refused before any data is read.
    with pytest.raises(ConfigError, match="pose-only"):
        validate_config(compose_config(["data=ntu_synth"]))
    cfg = compose_config(["+data@data.secondary=ntu_synth"])
    assert cfg.data.secondary._target_ == "har.data.sources.ntu.source.NTUDataModule"
    assert cfg.data.secondary.missing_skeletons.endswith(
        "ntu_synth_p6_s1_seed0/missing_skeletons.txt"
    )


def test_synthetic_tree_reads_with_its_quirks(tmp_path):
    root = ensure_ntu_twin(tmp_path / "ntu", performers=2, setups=1, seed=0)
    files = sorted((root / "nturgb+d_skeletons").iterdir())
    assert len(files) == 2 * 3 * 2 * 6
    missing = read_sample_list(root / "missing_skeletons.txt")
    assert missing == {"S001C001P002R001A007", "S001C001P002R001A008"}
    parsed = {p.stem: parse_skeleton(p) for p in files}
    assert all(not tracks for name, (_, tracks) in parsed.items() if name in missing)
    assert any(len(tracks) > 1 for _, tracks in parsed.values())  # bystanders and furniture
    dm = NTUDataModule(
        data_dir=root, cache_dir=tmp_path / "cache", missing_skeletons=str(root / "missing_skeletons.txt"),
        actions=[7, 8, 9, 10, 23, 40], n_classes=6, split="cross_view", val_subjects=[2],
    )  # fmt: skip
    dm.setup()
    assert {split: len(group) for split, group in dm.sessions.items()} == {
        "train": 24,
        "val": 34,
        "test": 12,
    }
    assert dm.window_counts["test"] == [2] * 6
    for session in dm.sessions["train"]:  # the actor, not a bystander: the arms move
        assert np.ptp(session.pose[:, [6, 10]], axis=0).max() > 0.15


@pytest.mark.slow
def test_ntu_synth_is_the_secondary_data_of_a_paired_trial(tmp_path):
    run = run_trial_cli(
        ["data=mmfit_debug", "scenario=secondary_pose", "data@data.secondary=ntu_synth",
         "trainer.epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
         "trainer.limit_test_batches=2", "trainer.plots=false"],
        tmp_path / "run",
    )  # fmt: skip
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    results = run.results
    assert results["status"] == "completed"
    assert (
        results["config"]["data"]["secondary"]["_target_"]
        == "har.data.sources.ntu.source.NTUDataModule"
    )
    assert results["config"]["scenario"]["secondary"]["n_classes"] == 6
    with open(run.run_dir / "csv" / "metrics.csv") as handle:  # the secondary head was trained
        logged = [row["train_ce_secondary"] for row in csv.DictReader(handle)]
    assert any(value and float(value) > 0 for value in logged)


def test_constructor_takes_exactly_the_config_keys():
    keys = set(OmegaConf.load(CONF / "ntu60.yaml")) - {"_target_"}
    assert set(inspect.signature(NTUDataModule).parameters) == keys
