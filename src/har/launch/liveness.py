"""Is a worker process still alive? And: make children die with their parent.

Each HPO trial records who runs it (host, pid, process start time). A process counts as alive only
while /proc says it runs: one that is gone, a zombie (state Z: exited, not yet reaped; a container
whose PID 1 never reaps keeps it for ever) or dying (X) is dead, although ``kill(pid, 0)`` still
answers for it; the start time tells a dead process from a new one that happens to reuse its pid.
Processes on other hosts cannot be judged here (None): file storages judge them by their heartbeat
file instead (``har.launch.heartbeat_files``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import sys
import time
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
    return process_identity(os.getpid())


def process_identity(pid: int) -> ProcessIdentity:
    """Who process ``pid`` of this host is (e.g. a trial child just started)."""
    return ProcessIdentity(socket.gethostname(), pid, _start_ticks(pid))


def is_alive(identity: ProcessIdentity) -> bool | None:
    """True/False for a process on this host; None when it runs elsewhere (we cannot tell)."""
    if identity.host != socket.gethostname():
        return None
    stat = _read_stat(identity.pid)
    if stat is None:  # no /proc (not Linux), or the process is gone
        return _answers_kill(identity.pid) if not os.path.isdir("/proc") else False
    state, start_ticks = stat
    if state in _DEAD_STATES:
        return False
    return identity.start_ticks is None or start_ticks == identity.start_ticks


def wait_until_dead(identity: ProcessIdentity, timeout_s: float, poll_s: float = 0.05) -> bool:
    """Wait for a process of this host to end (e.g. a trial winding down after its parent died);
    True when it is dead (or not ours to judge) within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while is_alive(identity):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


# Z: zombie (exited, waiting to be reaped), X: dead (being removed).
_DEAD_STATES = frozenset("ZX")


def _answers_kill(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return True


def _read_stat(pid: int) -> tuple[str, int | None] | None:
    """(state, start ticks) from /proc/<pid>/stat; None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # Fields 3 (state) and 22 (starttime); the command name (field 2) may hold spaces and
    # parentheses, so split after its last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return (fields[0], None) if fields else None


def _start_ticks(pid: int) -> int | None:
    stat = _read_stat(pid)
    return None if stat is None else stat[1]


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
