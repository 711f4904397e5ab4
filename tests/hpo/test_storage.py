"""Which storage a --storage string selects, and the refusal of SQLite for parallel workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.storages import JournalStorage, RDBStorage

from har.errors import ConfigError
from har.hpo.storage import (
    StorageSpec,
    check_workers_supported,
    default_storage,
    open_storage,
    parse_storage,
)


@pytest.mark.parametrize(
    ("text", "kind", "location"),
    [
        ("study.db", "sqlite", "sqlite:////base/study.db"),
        ("sub/study.sqlite3", "sqlite", "sqlite:////base/sub/study.sqlite3"),
        ("sqlite:///rel/s.db", "sqlite", "sqlite:////base/rel/s.db"),
        ("sqlite:////abs/s.db", "sqlite", "sqlite:////abs/s.db"),
        ("study.journal", "journal", "/base/study.journal"),
        ("study.log", "journal", "/base/study.log"),
        ("journal:/abs/anything", "journal", "/abs/anything"),
        ("journal:rel/x", "journal", "/base/rel/x"),
        ("postgresql://user:pw@host:5432/db", "rdb", "postgresql://user:pw@host:5432/db"),
        ("mysql+pymysql://u@h/db", "rdb", "mysql+pymysql://u@h/db"),
    ],
)
def test_storage_strings_select_the_backend(text: str, kind: str, location: str) -> None:
    spec = parse_storage(text, base_dir=Path("/base"))
    assert (spec.kind, spec.location) == (kind, location)
    assert parse_storage(str(spec)) == spec  # what trials receive parses to the same storage


@pytest.mark.parametrize("text", ["study.txt", "sqlite:///:memory:", "sqlite://x", ""])
def test_ambiguous_or_unshareable_storages_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_storage(text)


def test_default_storage_is_sqlite_for_one_worker_and_a_journal_for_several(tmp_path: Path) -> None:
    assert default_storage(tmp_path, "s", 1) == StorageSpec("sqlite", f"sqlite:///{tmp_path}/s.db")
    assert default_storage(tmp_path, "s", 4) == StorageSpec("journal", f"{tmp_path}/s.journal")


def test_sqlite_is_refused_for_several_workers_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="database is locked"):
        check_workers_supported(parse_storage("/x/s.db"), 2)
    check_workers_supported(parse_storage("/x/s.db"), 1)
    check_workers_supported(parse_storage("/x/s.journal"), 8)


def test_open_storage_builds_each_backend(tmp_path: Path) -> None:
    journal = open_storage(f"journal:{tmp_path}/j/s.journal", heartbeat=True)
    assert isinstance(journal, JournalStorage)
    sqlite = open_storage(f"sqlite:///{tmp_path}/s.db", heartbeat=True)
    assert isinstance(sqlite, RDBStorage) and sqlite.get_heartbeat_interval() is None
    # A database URL gets heartbeats and a retry of trials whose worker died.
    rdb = open_storage(StorageSpec("rdb", f"sqlite:///{tmp_path}/r.db"), heartbeat=True)
    assert isinstance(rdb, RDBStorage) and rdb.get_heartbeat_interval() == 60
    assert rdb.get_heartbeat_stale_trial_callback() is not None
    # ...but not in a trial process, which must not beat for its worker.
    child = open_storage(StorageSpec("rdb", f"sqlite:///{tmp_path}/r.db"), heartbeat=False)
    assert child.get_heartbeat_interval() is None
