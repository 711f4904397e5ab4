"""Optuna on a real PostgreSQL server: what SLURM arrays of workers do to a new database."""

from __future__ import annotations

import multiprocessing

import pytest

from har.hpo.storage import open_storage

# One xdist worker runs these (make test): one SLURM / PostgreSQL per run, not per worker.
pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


def _open(url: str) -> str:
    try:
        open_storage(url, heartbeat=True)
    except Exception as error:  # reported back: the assertion names what went wrong
        return f"{type(error).__name__}: {error}"
    return "ok"


def test_workers_starting_together_on_a_new_database_all_open_it(fresh_database: str) -> None:
    # Without the retry, all but one lose the race to create Optuna's tables (optuna#1092).
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert pool.map(_open, [fresh_database] * 4) == ["ok"] * 4
