"""Kill schedules on a real PostgreSQL storage (issue 17): Optuna's heartbeats judge the workers.

A killed worker's RUNNING trial goes stale after the heartbeat grace (2 s here), is failed by the
next worker that looks, and comes back as a queued copy; a copy whose original run finished takes
that run's results.json instead of training again (worker.adopt_retried_run). The invariants are
the journal schedules' (tests/reliability/chaos.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from har.hpo.search_plan import RECOVERED_FROM_ATTR
from tests.reliability.chaos import Schedule, chaos_count, draw_schedules, run_schedule

# One xdist worker runs these (make test): one SLURM / PostgreSQL per run, not per worker.
pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


def on(database: str, schedule: Schedule) -> Schedule:
    return Schedule(
        schedule.point, schedule.victim, schedule.signal, schedule.workers, schedule.delay_s,
        storage=database,
    )  # fmt: skip


def test_a_finished_trial_of_a_killed_search_is_adopted_by_its_retry(
    fake_project: Path, fresh_database: str
) -> None:
    # The reproduction on PostgreSQL: 2 workers, the whole process group SIGKILLed just
    # after the first trial finished, restarted at once.
    schedule = on(fresh_database, Schedule("after_results", "group", "SIGKILL", 2))
    study, untold = run_schedule(fake_project, schedule)
    carriers = [t for t in study.get_trials() if RECOVERED_FROM_ATTR in t.user_attrs]
    assert untold and {t.user_attrs["run_dir"] for t in carriers} == untold
    for carrier in carriers:
        original = study.trials[carrier.user_attrs[RECOVERED_FROM_ATTR]]
        assert original.state.name == "FAIL"  # failed by heartbeats, then retried
        assert carrier.user_attrs["run_dir"] == original.user_attrs["run_dir"]
        assert carrier.params == original.params and carrier.state.name == "COMPLETE"


FIXED = [
    Schedule("mid_epoch", "worker", "SIGKILL", 2, delay_s=1.0),
    # killed between asking a trial and launching it: the trial must still go stale
    Schedule("trial_start", "orchestrator", "SIGKILL", 2),
    # killed before the trial's first heartbeat and before it names its worker
    Schedule("trial_asked", "worker", "SIGKILL", 2),
]


@pytest.mark.parametrize("schedule", FIXED, ids=str)
def test_fixed_kill_schedules_on_postgres(
    fake_project: Path, fresh_database: str, schedule: Schedule
) -> None:
    run_schedule(fake_project, on(fresh_database, schedule))


COUNT, SEED = chaos_count()


@pytest.mark.chaos
@pytest.mark.parametrize("schedule", draw_schedules(COUNT, SEED), ids=str)
def test_drawn_kill_schedules_on_postgres(
    fake_project: Path, fresh_database: str, schedule: Schedule
) -> None:
    run_schedule(fake_project, on(fresh_database, schedule))
