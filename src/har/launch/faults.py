"""Fault injection for the reliability tests: a kill delivered exactly at a named moment.

Production code calls ``fault_point("name")`` at the moments a kill is most harmful; it costs one
environment lookup and does nothing unless ``$HAR_FAULT`` names that point:

    HAR_FAULT=<point>:<target>:<signal>[:<n>]   e.g.  after_results:group:SIGKILL
    HAR_FAULT_ONCE=<path>                       optional: fire only if this file can still be
                                                created (so one of several workers fires, once)

With ``HAR_FAULT_ONCE``, ``<n>`` (default 1) fires at the n-th time any process reaches the point
(e.g. during the third seed of a run_eval, or in the second trial): each arrival claims a numbered
file ``<path>.<k>`` beside it, so processes count together.

``target`` is relative to the process that reaches the point: ``self``, ``parent``,
``grandparent``, ``group`` (its process group: an orchestrator with its workers) or
``parent-group`` (its parent's process group; a trial runs in a session of its own).

Points in the package: ``trial_asked`` (a worker, a trial just asked, its worker not yet recorded),
``trial_start`` (a worker, trial asked and recorded, not yet launched),
``after_results`` (a worker or run_eval: the trial process has ended, the study not yet told or
the summary not yet written), ``best_json`` (a worker, just before best.json is replaced). The
tests' fake trial adds ``mid_epoch`` and ``checkpoint_write`` (between writing a checkpoint's
temporary file and renaming it).
"""

from __future__ import annotations

import os
import signal
import time

FAULT_ENV = "HAR_FAULT"
FAULT_ONCE_ENV = "HAR_FAULT_ONCE"
TARGETS = ("self", "parent", "grandparent", "group", "parent-group")
# After signalling itself, a process waits this long for the signal to act (a handled SIGTERM
# lets it go on, as it would in production).
_SETTLE_S = 0.5


def fault_point(point: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec or spec.split(":", 1)[0] != point:
        return
    _, target, sig_name, *nth = spec.split(":")
    once = os.environ.get(FAULT_ONCE_ENV)
    if once:
        if _arrival(once) != int(nth[0] if nth else 1):
            return
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    sig = signal.Signals[sig_name]
    if target == "group":
        os.killpg(os.getpgid(0), sig)
    elif target == "parent-group":
        os.killpg(os.getpgid(os.getppid()), sig)
    else:
        os.kill(_pid_of(target), sig)
    time.sleep(_SETTLE_S)


def _arrival(once: str) -> int:
    """1 for the first process to get here, 2 for the next, ...: the first free ``<once>.<k>``."""
    k = 1
    while True:
        try:
            os.close(os.open(f"{once}.{k}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return k
        except FileExistsError:
            k += 1


def _pid_of(target: str) -> int:
    if target == "self":
        return os.getpid()
    if target == "parent":
        return os.getppid()
    if target == "grandparent":
        with open(f"/proc/{os.getppid()}/stat", encoding="ascii") as stat:
            text = stat.read()
        return int(text[text.rfind(")") + 2 :].split()[1])  # field 4: ppid
    raise ValueError(f"${FAULT_ENV}: target {target!r} is not one of {', '.join(TARGETS)}")
