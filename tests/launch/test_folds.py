"""Participant folds: planning rules, each data set's split overrides, and run_eval --folds."""

from __future__ import annotations

import json
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from har.data.sources.folder import FolderDataModule
from har.data.sources.mmfit.format import PARTICIPANT_OF
from har.errors import ConfigError
from har.launch.evaluate import main
from har.launch.folds import LOSO, parse_folds, plan_folds
from tests.conftest import compose_config
from tests.launch.test_evaluate import launches  # noqa: F401  (the fake trial process fixture)

DEBUG = ["data=mmfit_debug", "scenario=debug"]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(3, 12),
    k=st.one_of(st.just(LOSO), st.integers(2, 12)),
    val=st.integers(1, 3),
    fold_seed=st.integers(0, 5),
)
def test_every_participant_is_tested_once_and_validation_never_holds_a_test_participant(
    n, k, val, fold_seed
):
    people = [f"s{i}" for i in range(n)]
    try:
        folds = plan_folds(people, k, val, fold_seed)
    except ConfigError:
        assert (k != LOSO and k > n) or n - -(-n // (n if k == LOSO else k)) - val < 1
        return
    assert len(folds) == (n if k == LOSO else k)
    assert sorted(p for f in folds for p in f.test) == sorted(people)
    for fold in folds:
        assert not set(fold.val) & set(fold.test) and len(fold.val) == val
        assert not set(fold.train) & (set(fold.val) | set(fold.test)) and fold.train
        assert sorted([*fold.train, *fold.val, *fold.test]) == sorted(people)
    if k == LOSO:
        assert [f.test for f in folds] == [(p,) for p in sorted(people)]


def test_the_fold_seed_reshuffles_k_folds_only():
    people = list(range(10))
    assert plan_folds(people, 5, 1, 0) != plan_folds(people, 5, 1, 1)
    assert plan_folds(people, LOSO, 1, 0) == plan_folds(people, LOSO, 1, 1)


@pytest.mark.parametrize("text", ["1", "0", "x", "-3"])
def test_a_fold_count_that_cannot_work_is_refused(text):
    with pytest.raises(ConfigError, match="--folds"):
        parse_folds(text)


def test_mmfit_folds_hold_out_every_workout_of_a_participant(twin_overrides):
    from hydra.utils import instantiate

    datamodule = instantiate(compose_config([*twin_overrides, "data=mmfit_synth"]).data)
    assert datamodule.participants() == sorted(set(PARTICIPANT_OF.values()))
    split = datamodule.fold_overrides(test=[1], val=[0])
    assert set(split["data.test_workouts"]) == {w for w, p in PARTICIPANT_OF.items() if p == 1}
    assert set(split["data.val_workouts"]) == {w for w, p in PARTICIPANT_OF.items() if p == 0}
    assert {PARTICIPANT_OF[w] for w in split["data.train_workouts"]} == set(range(2, 10))


def test_folder_folds_are_its_subject_folders(tmp_path):
    for subject in ("3", "7", "9"):
        (tmp_path / subject).mkdir()
        (tmp_path / subject / "a.npz").write_bytes(b"")  # listing reads names only
    datamodule = FolderDataModule(data_dir=tmp_path)
    assert datamodule.participants() == ["3", "7", "9"]
    assert datamodule.fold_overrides(test=["7"], val=["9"]) == {
        "data.train": ["3"], "data.val": ["9"], "data.test": ["7"],
    }  # fmt: skip


def test_loso_runs_each_fold_once_and_summarises_across_folds(
    tmp_path,
    twin_overrides,
    launches,  # noqa: F811
):
    args = ["--name", "l", "--folds", "loso", "--output-root", str(tmp_path), *twin_overrides]
    assert main([*args, *DEBUG]) == 0
    assert len(launches) == 10  # ten participants, one seed
    root = tmp_path / "l"
    assert sorted(p.name for p in root.glob("fold_*")) == sorted(f"fold_{k}" for k in range(10))
    first = launches[0]
    assert "data.test_workouts=[w01,w03,w06,w08,w10,w14]" in first  # participant 0
    assert "data.val_workouts=[w02,w04,w07,w09,w11,w15]" in first  # participant 1
    assert "seed=1" in first and f"hydra.run.dir={root / 'fold_0'}" in first

    summary = json.loads((root / "eval_summary.json").read_text())
    assert summary["completed_folds"] == 10 and summary["incomplete_runs"] == []
    assert summary["folds"][3]["test"] == [3] and summary["folds"][3]["val"] == [4]
    assert summary["summary"]["test_f1"]["n"] == 10  # statistics over folds
    assert "evaluation (n = folds)" in (root / "eval_table.md").read_text()

    # Resume: the completed folds are skipped.
    assert main([*args, *DEBUG]) == 0 and len(launches) == 10


def test_k_folds_with_seeds_average_the_seeds_within_each_fold(
    tmp_path,
    twin_overrides,
    launches,  # noqa: F811
):
    args = ["--name", "k", "--folds", "2", "--seeds", "1,3", "--output-root", str(tmp_path)]
    assert main([*args, *twin_overrides, *DEBUG]) == 0
    root = tmp_path / "k"
    assert {p.name for p in root.glob("fold_*")} == {
        f"fold_{k}_seed_{s}" for k in (0, 1) for s in (1, 3)
    }
    summary = json.loads((root / "eval_summary.json").read_text())
    # the fake trial scores test_f1 = 0.1 * seed: each fold's mean is 0.2, the std across folds 0
    assert [f["mean_over_seeds"]["test_f1"] for f in summary["folds"]] == pytest.approx([0.2, 0.2])
    assert summary["summary"]["test_f1"]["mean"] == pytest.approx(statistics.fmean([0.2, 0.2]))
    assert summary["summary"]["test_f1"]["n"] == 2
