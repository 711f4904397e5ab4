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

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from har.errors import ConfigError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

StorageKind = Literal["sqlite", "journal", "rdb"]

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
JOURNAL_SUFFIXES = (".journal", ".log", ".jsonl")
JOURNAL_PREFIX = "journal:"

# A worker's heartbeat every minute; three missed beats and its RUNNING trial is failed and retried.
HEARTBEAT_INTERVAL_S = 60
HEARTBEAT_GRACE_S = 180
STALE_TRIAL_RETRIES = 2
# SQLite: wait for a lock instead of failing while a trial writes its intermediate values.
SQLITE_LOCK_TIMEOUT_S = 60


@dataclass(frozen=True)
class StorageSpec:
    kind: StorageKind
    location: str  # the URL for sqlite / rdb, an absolute file path for a journal

    def __str__(self) -> str:
        return f"{JOURNAL_PREFIX}{self.location}" if self.kind == "journal" else self.location

    @property
    def is_local_file(self) -> bool:
        """A file storage: no heartbeats, so stale trials are found by their worker's pid."""
        return self.kind in ("sqlite", "journal")

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
    heartbeat_interval_s: int = HEARTBEAT_INTERVAL_S,
    heartbeat_grace_s: int = HEARTBEAT_GRACE_S,
) -> BaseStorage:
    """The Optuna storage for `spec`. `heartbeat` is for workers that own RUNNING trials (RDB only:
    file storages have no heartbeat, their stale trials are found by pid, see `liveness`)."""
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
    try:
        with warnings.catch_warnings():
            # Heartbeats are flagged 'experimental' by Optuna; that is noise for our users.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if not heartbeat:
                return RDBStorage(spec.location)
            return RDBStorage(
                spec.location,
                heartbeat_interval=heartbeat_interval_s,
                grace_period=heartbeat_grace_s,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=STALE_TRIAL_RETRIES
                ),
            )
    except ImportError as error:
        raise ConfigError(
            f"--storage {spec.location}: the database driver is not installed "
            f"({error}); for PostgreSQL: pip install 'har[postgres]'"
        ) from error


def _absolute(path: str, base: Path) -> Path:
    candidate = Path(path).expanduser()
    return (candidate if candidate.is_absolute() else base / candidate).resolve()
