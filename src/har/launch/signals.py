"""Stop cleanly on Ctrl-C and SIGTERM: a flag that launchers poll, never an exception mid-write."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130  # the shell's code for "stopped by a signal": run the same command to resume


@contextlib.contextmanager
def stop_on_signals(
    stop: threading.Event, also: Callable[[], None] | None = None
) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set `stop` (and call `also`) instead of raising."""

    def handle(signum: int, _frame: object) -> None:
        if not stop.is_set():
            log.warning("%s received: stopping the running trial(s)", signal.Signals(signum).name)
        stop.set()
        if also is not None:
            also()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
