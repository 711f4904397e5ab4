"""The study loop against a fake `run_trial` (milliseconds per trial): outputs, resume, failures,
the budget across workers, interruption. The same behaviours on the real trainer: test_acceptance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from har.hpo.cli import main
from har.hpo.storage import open_storage
from tests.hpo.conftest import hpo_command, hpo_env, run_hpo


def load(root: Path, study: str, storage: str | None = None) -> optuna.Study:
    location = storage or f"sqlite:///{root / 'out' / f'{study}.db'}"
    return optuna.load_study(study_name=study, storage=open_storage(location, heartbeat=False))


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.get_trials()]


def search(root: Path, study: str, *extra: str, n: int = 3) -> int:
    return main(
        [
            "--n-trials", str(n), "--study-name", study, "--space-config", "space.yaml",
            "--output-root", str(root / "out"), "--no-plots", *extra,
        ]
    )  # fmt: skip


def test_search_writes_trials_csv_and_best_json_matching_the_best_trial(fake_project: Path) -> None:
    assert search(fake_project, "s", n=3) == 0
    out = fake_project / "out"
    best = json.loads((out / "best.json").read_text())
    results = json.loads(Path(best["results_json"]).read_text())
    assert best["best_value"] == results["final_metrics"]["best_val_f1"]
    assert best["metric"] == "val_f1" and best["direction"] == "maximize"
    assert set(best["best_params"]) == {"optim.lr", "scenario.alpha"}
    assert best["overrides"].startswith("optim.lr=") and "scenario.alpha=" in best["overrides"]
    lines = (out / "trials.csv").read_text().splitlines()
    assert lines[0].startswith(
        "number,state,value,duration_s,params.optim.lr,params.scenario.alpha"
    )
    assert len(lines) == 4
    assert all((out / "trials" / f"trial_{n}" / "trial.log").is_file() for n in range(3))


def test_seed_reaches_every_trial_and_trial_numbers_continue_on_resume(fake_project: Path) -> None:
    assert search(fake_project, "s", "--seed", "7", n=2) == 0
    assert search(fake_project, "s", "--seed", "7", n=2) == 0
    study = load(fake_project, "s")
    assert [t.number for t in study.get_trials()] == [0, 1, 2, 3]
    assert states(study) == ["COMPLETE"] * 4
    # A resumed sampler is seeded afresh: it must not replay the first invocation's proposals.
    lrs = [t.params["optim.lr"] for t in study.get_trials()]
    assert len(set(lrs)) == 4
    log = (fake_project / "out" / "trials" / "trial_3" / "trial.log").read_text()
    assert "seed=7" in log


def test_a_failing_trial_is_fail_with_its_log_and_the_study_goes_on(fake_project: Path) -> None:
    # The fake exits 2 for a negative learning rate, as run_trial does for a bad config.
    assert search(fake_project, "good", n=2) == 0
    assert (
        search(fake_project, "good", "optim.lr=-1", n=1) == 0
    )  # a study with a best still exits 0
    study = load(fake_project, "good")
    assert states(study) == ["COMPLETE", "COMPLETE", "FAIL"]
    failed = study.get_trials()[2]
    assert "exited with code 2" in failed.user_attrs["fail_reason"]
    assert "optim.lr must be positive" in failed.user_attrs["log_tail"]


def test_all_trials_failing_exits_non_zero_without_best_json(fake_project: Path) -> None:
    assert search(fake_project, "bad", "fake.mode=crash", n=2) == 1
    assert states(load(fake_project, "bad")) == ["FAIL", "FAIL"]
    assert not (fake_project / "out" / "best.json").exists()
    assert "RuntimeError" in load(fake_project, "bad").get_trials()[0].user_attrs["log_tail"]


def test_two_workers_on_a_journal_run_exactly_n_trials(fake_project: Path) -> None:
    assert search(fake_project, "par", "--n-workers", "2", "fake.sleep=0.3", n=5) == 0
    journal = fake_project / "out" / "par.journal"
    assert journal.is_file() and not (fake_project / "out" / "par.db").exists()
    study = load(fake_project, "par", f"journal:{journal}")
    assert sorted(t.number for t in study.get_trials()) == [0, 1, 2, 3, 4]
    assert states(study) == ["COMPLETE"] * 5
    workers = {t.user_attrs["har.worker"]["pid"] for t in study.get_trials()}
    assert len(workers) == 2  # both workers took trials


def test_sqlite_is_refused_for_several_workers(fake_project: Path, capsys) -> None:
    code = search(fake_project, "x", "--n-workers", "2", "--storage", "x.db", n=2)
    assert code == 2
    assert "SQLite" in capsys.readouterr().err


def test_fix_from_pins_the_earlier_winners(fake_project: Path) -> None:
    assert search(fake_project, "pass1", n=2) == 0
    best1 = json.loads((fake_project / "out" / "best.json").read_text())
    (fake_project / "pass1.json").write_text(json.dumps(best1))
    code = search(fake_project, "pass2", "--fix-from", "pass1.json", n=1)
    # Both keys are pinned by pass 1, so nothing is left to search in the same space.
    assert code == 2
    (fake_project / "alpha_only.json").write_text(
        json.dumps({"override_list": ["scenario.alpha=1.25"]})
    )
    assert search(fake_project, "pass2b", "--fix-from", "alpha_only.json", n=2) == 0
    study = load(fake_project, "pass2b")
    assert all(set(t.params) == {"optim.lr"} for t in study.get_trials())
    best = json.loads((fake_project / "out" / "best.json").read_text())
    assert best["fixed_overrides"] == ["scenario.alpha=1.25"]
    assert best["override_list"][0] == "scenario.alpha=1.25"
    log = Path(best["run_dir"], "trial.log").read_text()
    assert "scenario.alpha=1.25" in log


def test_a_typo_in_a_forwarded_override_stops_before_any_trial(fake_project: Path, capsys) -> None:
    assert search(fake_project, "typo", "optim.lrr=1", n=2) == 2
    assert "optim.lrr" in capsys.readouterr().err
    assert not (fake_project / "out" / "trials").exists()


def test_a_stale_run_dir_from_an_older_study_is_set_aside(fake_project: Path) -> None:
    old = fake_project / "out" / "trials" / "trial_0"
    old.mkdir(parents=True)
    (old / "results.json").write_text(
        '{"status": "completed", "final_metrics": {"best_val_f1": 9}}'
    )
    assert search(fake_project, "fresh", n=1) == 0
    assert (fake_project / "out" / "trials" / "trial_0.stale1" / "results.json").is_file()
    assert json.loads((fake_project / "out" / "best.json").read_text())["best_value"] < 9


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def _pid_alive(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_the_trial_and_leaves_nothing_running(fake_project: Path, sig) -> None:
    args = [
        "--n-trials", "3", "--study-name", "stop", "--space-config", "space.yaml",
        "--output-root", str(fake_project / "out"), "--no-plots", "fake.mode=hang",
    ]  # fmt: skip
    process = subprocess.Popen(
        hpo_command(*args), cwd=fake_project, env=hpo_env(fake_project), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    pid_file = fake_project / "out" / "trials" / "trial_0" / "pid"
    _wait_for(pid_file.exists)
    trial_pid = int(pid_file.read_text())
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert not _pid_alive(trial_pid)
    study = load(fake_project, "stop")
    assert states(study) == ["FAIL"]  # the stopped trial; no further trial was started
    assert "interrupted" in study.get_trials()[0].user_attrs["fail_reason"]


def test_a_stopped_trial_does_not_use_up_the_total(fake_project: Path) -> None:
    # A preempted SLURM worker stops its trial (FAIL, lost); resubmitted with the same
    # --total-trials, the study still ends with that many trials that ran.
    base = [
        "--study-name", "preempted", "--space-config", "space.yaml",
        "--output-root", str(fake_project / "out"), "--no-plots", "--total-trials", "2",
    ]  # fmt: skip
    process = subprocess.Popen(
        hpo_command(*base, "fake.mode=hang"), cwd=fake_project, env=hpo_env(fake_project),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_for((fake_project / "out" / "trials" / "trial_0" / "pid").exists)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert load(fake_project, "preempted").get_trials()[0].user_attrs["lost"] is True

    assert run_hpo(fake_project, *base).returncode == 0
    assert states(load(fake_project, "preempted")) == ["FAIL", "COMPLETE", "COMPLETE"]


def test_sigkill_mid_trial_then_resume_fails_the_orphan_and_reaches_the_total(
    fake_project: Path,
) -> None:
    base = [
        "--study-name", "killed", "--space-config", "space.yaml",
        "--output-root", str(fake_project / "out"), "--no-plots",
    ]  # fmt: skip
    assert run_hpo(fake_project, *base, "--n-trials", "2").returncode == 0
    process = subprocess.Popen(
        hpo_command(*base, "--n-trials", "2", "fake.mode=hang"),
        cwd=fake_project, env=hpo_env(fake_project),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pid_file = fake_project / "out" / "trials" / "trial_2" / "pid"
    _wait_for(pid_file.exists)
    trial_pid = int(pid_file.read_text())
    process.kill()
    process.wait(timeout=30)
    _wait_for(lambda: not _pid_alive(trial_pid), timeout=30)  # parent-death signal reached it
    assert states(load(fake_project, "killed")) == ["COMPLETE", "COMPLETE", "RUNNING"]

    resumed = run_hpo(fake_project, *base, "--n-trials", "2")
    assert resumed.returncode == 0, resumed.stderr
    study = load(fake_project, "killed")
    assert states(study) == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert "died" in study.get_trials()[2].user_attrs["fail_reason"]


def test_ctrl_c_on_the_process_group_stops_every_worker_and_trial(fake_project: Path) -> None:
    # A terminal's Ctrl-C reaches the orchestrator and its workers at once (one process group).
    args = [
        "--n-trials", "4", "--n-workers", "2", "--study-name", "cc", "--space-config", "space.yaml",
        "--output-root", str(fake_project / "out"), "--no-plots", "fake.mode=hang",
    ]  # fmt: skip
    process = subprocess.Popen(
        hpo_command(*args), cwd=fake_project, env=hpo_env(fake_project), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    pid_files = [fake_project / "out" / "trials" / f"trial_{n}" / "pid" for n in (0, 1)]
    _wait_for(lambda: all(p.exists() for p in pid_files))
    trial_pids = [int(p.read_text()) for p in pid_files]
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert not any(_pid_alive(pid) for pid in trial_pids)
    study = load(fake_project, "cc", f"journal:{fake_project / 'out' / 'cc.journal'}")
    assert states(study) == ["FAIL", "FAIL"]


def test_hpo_env_picks_the_space_and_names_the_study(
    fake_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fake_project / "conf" / "hpo").mkdir()
    (fake_project / "conf" / "hpo" / "tiny.yaml").write_text(
        (fake_project / "space.yaml").read_text()
    )
    monkeypatch.setenv("HPO", "tiny")
    assert main(["--n-trials", "1", "--no-plots"]) == 0
    output_root = fake_project / "experiments" / "hpo" / "tiny"  # the default output root
    assert (output_root / "tiny.db").is_file() and (output_root / "best.json").is_file()


def test_metric_and_direction_must_agree_and_match_a_resumed_study(fake_project: Path) -> None:
    assert search(fake_project, "m", "--metric", "val_loss", "--direction", "maximize") == 2
    assert search(fake_project, "m", "--metric", "val_loss", n=1) == 0
    assert search(fake_project, "m", "--metric", "val_f1", n=1) == 2  # the study is minimised
    assert len(load(fake_project, "m").get_trials()) == 1


def test_total_trials_caps_the_whole_study(fake_project: Path) -> None:
    assert search(fake_project, "tot", "--total-trials", "3", n=1) == 0
    assert search(fake_project, "tot", "--total-trials", "3", n=1) == 0  # already there: no trial
    assert len(load(fake_project, "tot").get_trials()) == 3


def test_resuming_with_incompatible_choices_is_refused_before_any_trial(
    fake_project: Path, capsys
) -> None:
    (fake_project / "choices.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      scenario.alpha: choice(1.0, 2.0)\n"
    )
    assert search(fake_project, "ch", "--space-config", "choices.yaml", n=1) == 0
    (fake_project / "choices.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      scenario.alpha: choice(1.0, 3.0)\n"
    )
    assert search(fake_project, "ch", "--space-config", "choices.yaml", n=1) == 2
    assert "scenario.alpha" in capsys.readouterr().err
    assert len(load(fake_project, "ch").get_trials()) == 1


def test_workers_and_trials_follow_an_orchestrator_killed_with_sigkill(fake_project: Path) -> None:
    args = [
        "--n-trials", "4", "--n-workers", "2", "--study-name", "orphans",
        "--space-config", "space.yaml", "--output-root", str(fake_project / "out"), "--no-plots",
        "fake.mode=hang",
    ]  # fmt: skip
    process = subprocess.Popen(
        hpo_command(*args), cwd=fake_project, env=hpo_env(fake_project),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pid_files = [fake_project / "out" / "trials" / f"trial_{n}" / "pid" for n in (0, 1)]
    _wait_for(lambda: all(p.exists() for p in pid_files))
    trial_pids = [int(p.read_text()) for p in pid_files]
    process.kill()
    process.wait(timeout=30)
    _wait_for(lambda: not any(_pid_alive(pid) for pid in trial_pids), timeout=60)
    study = load(fake_project, "orphans", f"journal:{fake_project / 'out' / 'orphans.journal'}")
    # The workers got the parent-death signal, stopped their trials and closed them as FAIL.
    _wait_for(lambda: states(study) == ["FAIL", "FAIL"], timeout=30)
