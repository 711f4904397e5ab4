"""Which Optuna storage a study lives in, from one string that the orchestrator and its trials share.

    path/to/study.db, sqlite:///path.db      -> SQLite (one worker process at a time)
    path/to/study.journal, *.log, journal:P  -> journal file (several worker processes on one host
                                                or on a shared file system)
    postgresql://..., mysql+pymysql://...    -> any SQLAlchemy database (clusters); heartbeats on, so
                                                a trial whose worker died is failed and retried

The orchestrator normalises the user's string (absolute paths) and passes `str(spec)` to each trial,
which reopens the same study with `open_storage(spec, heartbeat=False)`. Optuna is imported lazily:
a trial that reports for pruning pays for it, a plain training run never does.
"""

from __future__ import annotations

import importlib.util
import os
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from har.errors import ConfigError, reports_user_errors

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

StorageKind = Literal["sqlite", "journal", "rdb"]

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
JOURNAL_SUFFIXES = (".journal", ".log", ".jsonl")
JOURNAL_PREFIX = "journal:"

# A worker's heartbeat every minute; three missed beats and its RUNNING trial is failed and retried.
# The environment may change both (e.g. a test that kills a worker and cannot wait minutes).
HEARTBEAT_INTERVAL_S = 60
HEARTBEAT_GRACE_S = 180
HEARTBEAT_INTERVAL_ENV = "HAR_HEARTBEAT_INTERVAL_S"
HEARTBEAT_GRACE_ENV = "HAR_HEARTBEAT_GRACE_S"
STALE_TRIAL_RETRIES = 2
# SQLite: wait for a lock instead of failing while a trial writes its intermediate values.
SQLITE_LOCK_TIMEOUT_S = 60
SCHEMA_RACE_ATTEMPTS = 5


@dataclass(frozen=True)
class StorageSpec:
    kind: StorageKind
    location: str  # the URL for sqlite / rdb, an absolute file path for a journal

    def __str__(self) -> str:
        return f"{JOURNAL_PREFIX}{self.location}" if self.kind == "journal" else self.location

    @property
    def is_local_file(self) -> bool:
        """A file storage: no Optuna heartbeats; stale trials are found by their worker's pid on
        this host, by its heartbeat file's age on others (``heartbeat_dir``)."""
        return self.kind in ("sqlite", "journal")

    @property
    def shell_form(self) -> str:
        """The shortest string ``parse_storage`` reads back as this storage (a bare file path when
        its suffix says the kind), for launchers that show it to users."""
        path = self.path
        if path is not None and path.suffix.lower() in (
            JOURNAL_SUFFIXES if self.kind == "journal" else SQLITE_SUFFIXES
        ):
            return str(path)
        return str(self)

    @property
    def heartbeat_dir(self) -> Path | None:
        """File storages: the folder beside the file where workers touch their heartbeat files."""
        path = self.path
        return None if path is None else path.with_name(f"{path.name}.heartbeats")

    @property
    def allows_parallel_workers(self) -> bool:
        return self.kind != "sqlite"

    @property
    def path(self) -> Path | None:
        if self.kind == "journal":
            return Path(self.location)
        if self.kind == "sqlite":
            return Path(self.location.removeprefix("sqlite:///"))
        return None


def parse_storage(text: str, base_dir: Path | None = None) -> StorageSpec:
    """Normalise a user's storage string; relative paths are taken from `base_dir` (the launch dir)."""
    base = (base_dir or Path.cwd()).resolve()
    text = text.strip()
    if not text:
        raise ConfigError("--storage is empty")
    if text.startswith(JOURNAL_PREFIX):
        return StorageSpec("journal", str(_absolute(text[len(JOURNAL_PREFIX) :], base)))
    if text.startswith("sqlite:"):
        path_part = text.removeprefix("sqlite:///")
        if path_part == text or path_part in ("", ":memory:"):
            raise ConfigError(
                f"--storage {text}: an in-memory or malformed SQLite URL cannot be shared with "
                "trial processes; use sqlite:///path/to/study.db"
            )
        return StorageSpec("sqlite", f"sqlite:///{_absolute(path_part, base)}")
    if "://" in text:
        return StorageSpec("rdb", text)
    suffix = Path(text).suffix.lower()
    if suffix in SQLITE_SUFFIXES:
        return StorageSpec("sqlite", f"sqlite:///{_absolute(text, base)}")
    if suffix in JOURNAL_SUFFIXES:
        return StorageSpec("journal", str(_absolute(text, base)))
    raise ConfigError(
        f"--storage {text}: say which storage: a file ending in {'/'.join(SQLITE_SUFFIXES)} "
        f"(SQLite), in {'/'.join(JOURNAL_SUFFIXES)} or prefixed {JOURNAL_PREFIX} (journal), or a "
        "database URL such as postgresql://user@host/db"
    )


def default_storage(output_root: Path, study_name: str, n_workers: int) -> StorageSpec:
    """SQLite for one worker; a journal file as soon as several processes write to the study."""
    if n_workers > 1:
        return StorageSpec("journal", str(output_root.resolve() / f"{study_name}.journal"))
    return StorageSpec("sqlite", f"sqlite:///{output_root.resolve() / f'{study_name}.db'}")


def check_workers_supported(spec: StorageSpec, n_workers: int) -> None:
    if n_workers > 1 and not spec.allows_parallel_workers:
        raise ConfigError(
            f"--n-workers {n_workers} with SQLite storage {spec}: SQLite locks the whole file on "
            "every write, so parallel workers and their trials' per-epoch reports fail with "
            "'database is locked'. Use a journal file (--storage <name>.journal, the default when "
            "no --storage is given) or a database server (postgresql://...)."
        )


def open_storage(
    spec: StorageSpec | str,
    *,
    heartbeat: bool,
    heartbeat_interval_s: int | None = None,
    heartbeat_grace_s: int | None = None,
) -> BaseStorage:
    """The Optuna storage for `spec`. `heartbeat` is for workers that own RUNNING trials (RDB only:
    file storages have no Optuna heartbeats; their workers touch heartbeat files, see `heartbeat_dir`).
    Unset heartbeat timings come from $HAR_HEARTBEAT_INTERVAL_S / $HAR_HEARTBEAT_GRACE_S, else
    the defaults above."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if isinstance(spec, str):
        spec = parse_storage(spec)
    if spec.kind == "journal":
        path = Path(spec.location)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if spec.kind == "sqlite":
        assert spec.path is not None
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        return RDBStorage(
            spec.location, engine_kwargs={"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}}
        )
    url = with_installed_postgres_driver(spec.location)
    try:
        with warnings.catch_warnings():
            # Heartbeats are flagged 'experimental' by Optuna; that is noise for our users.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if not heartbeat:
                return _open_database(url)
            return _open_database(
                url,
                heartbeat_interval=heartbeat_interval_s
                or _seconds_from_env(HEARTBEAT_INTERVAL_ENV, HEARTBEAT_INTERVAL_S),
                grace_period=heartbeat_grace_s
                or _seconds_from_env(HEARTBEAT_GRACE_ENV, HEARTBEAT_GRACE_S),
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=STALE_TRIAL_RETRIES
                ),
            )
    except ImportError as error:
        raise ConfigError(
            f"--storage {spec.location}: the database driver is not installed "
            f"({error}); for PostgreSQL: pip install 'har[postgres]'"
        ) from error


def _open_database(url: str, **kwargs: Any) -> BaseStorage:
    """RDBStorage, retried when it loses the race to create Optuna's tables in a new database:
    workers that start together (a SLURM array) all try, and all but one fail with an integrity or
    'already exists' error (optuna#1092). At the next try the tables are there."""
    import sqlalchemy.exc
    from optuna.storages import RDBStorage

    for attempt in range(1, SCHEMA_RACE_ATTEMPTS + 1):
        try:
            return RDBStorage(url, **kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == SCHEMA_RACE_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.5, 2.0))  # jitter: do not collide again
    raise AssertionError("unreachable")


def with_installed_postgres_driver(url: str) -> str:
    """A bare ``postgresql://`` URL names no driver, and SQLAlchemy's default changed (psycopg2 up to
    2.0, psycopg 3 from 2.1): name the one that is installed. Other URLs are returned unchanged."""
    if not url.startswith("postgresql://"):
        return url
    for module in ("psycopg", "psycopg2"):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{module}://{url.removeprefix('postgresql://')}"
    return url  # SQLAlchemy's ImportError then says which driver it wanted


def heartbeat_timing() -> tuple[int, int]:
    """(interval, grace) in seconds: a worker beats every interval; silent for grace, it is dead."""
    return (
        _seconds_from_env(HEARTBEAT_INTERVAL_ENV, HEARTBEAT_INTERVAL_S),
        _seconds_from_env(HEARTBEAT_GRACE_ENV, HEARTBEAT_GRACE_S),
    )


def _seconds_from_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = int(text)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise ConfigError(f"{name}={text!r}: give a whole number of seconds, at least 1")
    return seconds


def _absolute(path: str, base: Path) -> Path:
    candidate = Path(path).expanduser()
    return (candidate if candidate.is_absolute() else base / candidate).resolve()


def choose_storage(
    given: str | None, output_root: Path, study_name: str, n_workers: int
) -> StorageSpec:
    """The study's storage: the user's (normalised), or the default for ``n_workers``; refuses
    SQLite for several workers."""
    spec = parse_storage(given) if given else default_storage(output_root, study_name, n_workers)
    check_workers_supported(spec, n_workers)
    return spec


@reports_user_errors(prog="storage")
def main(argv: list[str] | None = None) -> int:
    """``python -m har.hpo.storage OUTPUT_ROOT STUDY_NAME WORKERS [STORAGE]``: print the storage the
    search will use (the SLURM launcher asks this rather than classifying URLs itself)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m har.hpo.storage", description=main.__doc__)
    parser.add_argument("output_root", type=Path)
    parser.add_argument("study_name")
    parser.add_argument("workers", type=int)
    parser.add_argument("storage", nargs="?", default="")
    args = parser.parse_args(argv)
    print(choose_storage(args.storage, args.output_root, args.study_name, args.workers).shell_form)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
