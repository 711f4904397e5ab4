"""Is a worker process still alive? And: make children die with their parent.

File storages (SQLite, journal) have no heartbeats, so each trial records who runs it (host, pid,
process start time). At startup the orchestrator fails RUNNING trials whose worker on this host is
gone; the start time tells a dead worker from a new process that happens to reuse its pid.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    start_ticks: int | None  # from /proc/<pid>/stat; None where /proc does not exist

    def to_attr(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_attr(cls, stored: Any) -> ProcessIdentity | None:
        if not isinstance(stored, dict):
            return None
        try:
            return cls(str(stored["host"]), int(stored["pid"]), stored.get("start_ticks"))
        except (KeyError, TypeError, ValueError):
            return None


def current_process() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(socket.gethostname(), pid, _start_ticks(pid))


def is_alive(identity: ProcessIdentity) -> bool | None:
    """True/False for a process on this host; None when it runs elsewhere (we cannot tell)."""
    if identity.host != socket.gethostname():
        return None
    try:
        os.kill(identity.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if identity.start_ticks is None:
        return True
    return _start_ticks(identity.pid) == identity.start_ticks


def _start_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may hold spaces, so split after its ')'.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` (Linux only) that makes a child receive `sig` when its parent dies, so an
    orchestrator killed with SIGKILL does not leave trials training on as orphans."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl  # resolved before fork, called after

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return set_parent_death_signal


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Apply the parent-death signal to the calling process (used by spawned worker processes)."""
    setter = parent_death_signal(sig)
    if setter is not None:
        setter()
