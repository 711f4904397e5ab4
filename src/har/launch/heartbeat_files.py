"""Heartbeats for file storages: each worker touches its own file in a folder beside the journal.

A worker on another host of a shared file system cannot be judged by its pid; its file's age can.
Ages are measured against a file touched just now in the same folder, so both times come from the
same (file server's) clock, never from two hosts' clocks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from har.launch.liveness import ProcessIdentity

log = logging.getLogger(__name__)


class HeartbeatFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, worker: ProcessIdentity) -> Path:
        return self.folder / f"{worker.host}-{worker.pid}-{worker.start_ticks}"

    def beat(self, worker: ProcessIdentity) -> None:
        path = self.path_of(worker)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path)  # touch() keeps an existing file's mtime on some file systems

    def age_s(self, worker: ProcessIdentity) -> float | None:
        """Seconds since the worker's last beat; None when it has no heartbeat file."""
        try:
            last = self.path_of(worker).stat().st_mtime
        except FileNotFoundError:
            return None
        return self._now() - last

    def remove(self, worker: ProcessIdentity) -> None:
        self.path_of(worker).unlink(missing_ok=True)

    def _now(self) -> float:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".now-", dir=self.folder)
        try:
            return os.fstat(fd).st_mtime
        finally:
            os.close(fd)
            os.unlink(probe)

    @contextlib.contextmanager
    def beating(self, worker: ProcessIdentity, interval_s: float) -> Iterator[None]:
        """Beat every ``interval_s`` while inside; the file is removed on a clean exit."""
        done = threading.Event()

        def loop() -> None:
            while True:
                try:
                    self.beat(worker)
                except OSError as error:  # a missed beat is survivable; a dead thread is not
                    log.warning("heartbeat file %s: %s", self.path_of(worker), error)
                if done.wait(interval_s):
                    return

        self.beat(worker)  # before any trial is asked, so a trial never lacks its worker's file
        thread = threading.Thread(target=loop, name="heartbeat-file", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            self.remove(worker)
