"""Liveness that is true (issue 17): zombies and reused pids are dead, other hosts are judged by
their heartbeat file's age, measured on the shared folder's own clock."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from har.launch.heartbeat_files import HeartbeatFiles
from har.launch.liveness import (
    ProcessIdentity,
    current_process,
    is_alive,
    process_identity,
    wait_until_dead,
)

linux_only = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")


def proc_state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2]


@linux_only
def test_a_zombie_is_dead_although_kill_0_still_answers() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    try:
        deadline = time.monotonic() + 30
        while proc_state(child.pid) != "Z":  # exited, not reaped: we have not waited for it
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.02)
        os.kill(child.pid, 0)  # what a pid check alone would see: "alive"
        assert is_alive(identity) is False
        assert wait_until_dead(identity, timeout_s=0.0)
    finally:
        child.wait()


@linux_only
def test_a_running_process_is_alive_until_it_ends() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = process_identity(child.pid)
    try:
        assert is_alive(identity) is True
        assert not wait_until_dead(identity, timeout_s=0.1)
    finally:
        child.kill()
        child.wait()
    assert is_alive(identity) is False  # reaped: /proc has no such pid


@linux_only
def test_a_reused_pid_is_not_the_process_that_was_recorded() -> None:
    me = current_process()
    assert is_alive(me) is True
    assert me.start_ticks is not None
    older = dataclasses.replace(me, start_ticks=me.start_ticks - 1)  # same pid, another process
    assert is_alive(older) is False


def test_a_process_on_another_host_cannot_be_judged_here() -> None:
    elsewhere = dataclasses.replace(current_process(), host="another-node")
    assert is_alive(elsewhere) is None
    assert wait_until_dead(elsewhere, timeout_s=0.0)  # not ours to wait for


def test_heartbeat_file_age_comes_from_the_folder_clock(tmp_path: Path) -> None:
    files = HeartbeatFiles(tmp_path / "study.journal.heartbeats")
    worker = ProcessIdentity("another-node", 4242, 123)
    assert files.age_s(worker) is None  # never beat (or ended cleanly)
    files.beat(worker)
    assert 0 <= files.age_s(worker) < 5
    # A beat the file server stamped 100 s ago: a worker whose host clock says otherwise does not
    # matter, both times are the folder's.
    then = files.path_of(worker).stat().st_mtime - 100
    os.utime(files.path_of(worker), (then, then))
    assert 99 < files.age_s(worker) < 105
    files.remove(worker)
    assert files.age_s(worker) is None


def test_a_worker_beats_while_inside_and_removes_its_file_on_a_clean_exit(tmp_path: Path) -> None:
    files = HeartbeatFiles(tmp_path / "beats")
    worker = current_process()
    with files.beating(worker, interval_s=0.05):
        stale = time.time() - 1000
        os.utime(files.path_of(worker), (stale, stale))
        time.sleep(0.3)  # several intervals: the thread beat again
        assert files.age_s(worker) < 5
    assert not files.path_of(worker).exists()
