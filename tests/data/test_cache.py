from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from mmfit_writer import tiny_datamodule_kwargs, write_tiny_dataset

from har.data.sources.mmfit import reader as mmfit
from har.data.sources.mmfit.source import MMFitDataModule
from har.errors import ConfigError


@pytest.fixture
def raw(tmp_path):
    write_tiny_dataset(tmp_path / "raw")
    return tmp_path / "raw"


@pytest.fixture
def reads(monkeypatch):
    """Count calls of the raw reader (a cache hit must not read raw files)."""
    calls: list[str] = []
    real = mmfit.read_workout

    def counting(root, workout, sensor="sw_l_acc"):
        calls.append(workout)
        return real(root, workout, sensor)

    monkeypatch.setattr(mmfit, "read_workout", counting)
    return calls


def setup_module_(raw, cache, **overrides) -> MMFitDataModule:
    module = MMFitDataModule(**tiny_datamodule_kwargs(raw, cache, **overrides))
    module.setup()
    return module


def test_second_setup_hits_the_cache_and_matches(raw, tmp_path, reads):
    cold = setup_module_(raw, tmp_path / "cache")
    assert sorted(reads) == ["w01", "w02", "w09", "w14"]
    warm = setup_module_(raw, tmp_path / "cache")
    assert len(reads) == 4  # no raw read on the second setup
    for a, b in zip(cold.sessions["train"], warm.sessions["train"], strict=True):
        for name in ("pose", "acc", "labels", "valid"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.workout, a.t0_ms, a.rate_hz, a.report) == (
            b.workout,
            b.t0_ms,
            b.rate_hz,
            b.report,
        )
    assert isinstance(warm.sessions["train"][0].acc, np.memmap)  # loaded without copying


def test_cache_lives_under_cache_dir_never_beside_raw_files(raw, tmp_path):
    before = sorted(p.relative_to(raw) for p in raw.rglob("*"))
    setup_module_(raw, tmp_path / "cache")
    assert sorted(p.relative_to(raw) for p in raw.rglob("*")) == before
    entries = sorted(p.name for p in (tmp_path / "cache" / "mmfit").iterdir())
    assert len([e for e in entries if e.startswith("w")]) == 4
    for entry in (tmp_path / "cache" / "mmfit").glob("w01-*"):
        assert sorted(p.name for p in entry.iterdir()) == [
            "acc.npy", "labels.npy", "manifest.json", "pose.npy", "valid.npy",
        ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"data.cache_dir"):
        MMFitDataModule(**tiny_datamodule_kwargs(raw, raw / "cache"))


def test_changing_a_setting_misses(raw, tmp_path, reads):
    setup_module_(raw, tmp_path / "cache")
    setup_module_(raw, tmp_path / "cache", sampling_rate_hz=40)
    assert len(reads) == 8
    # Settings that act after the cache (joints, windows) reuse it.
    setup_module_(raw, tmp_path / "cache", joints=[11, 12, 13], sensor_window_length=16)
    assert len(reads) == 8


def test_touching_a_raw_file_misses_only_that_workout(raw, tmp_path, reads):
    setup_module_(raw, tmp_path / "cache")
    labels = raw / "w14" / "w14_labels.csv"
    stat = labels.stat()
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    setup_module_(raw, tmp_path / "cache")
    assert reads[4:] == ["w14"]


@pytest.mark.parametrize("damage", ["truncate", "drop_manifest", "bad_manifest"])
def test_a_damaged_entry_is_rebuilt_with_a_warning(raw, tmp_path, reads, caplog, damage):
    cold = setup_module_(raw, tmp_path / "cache")
    (entry,) = (tmp_path / "cache" / "mmfit").glob("w02-*")
    if damage == "truncate":
        content = (entry / "pose.npy").read_bytes()
        (entry / "pose.npy").write_bytes(content[: len(content) // 3])
    elif damage == "drop_manifest":
        (entry / "manifest.json").unlink()
    else:
        (entry / "manifest.json").write_text("{ not json")
    with caplog.at_level(logging.WARNING, logger="har.data.cache"):
        warm = setup_module_(raw, tmp_path / "cache")
    assert reads[4:] == ["w02"]
    assert any(
        "w02-" in record.getMessage() and "rebuilding" in record.getMessage()
        for record in caplog.records
    )
    np.testing.assert_array_equal(warm.sessions["train"][1].pose, cold.sessions["train"][1].pose)
    setup_module_(raw, tmp_path / "cache")
    assert len(reads) == 5  # the rebuilt entry is whole again


def test_the_reader_code_is_part_of_the_session_key(tmp_path):
    """A fix to a reader (or to the shared resampling) must not reuse sessions it read before."""
    from har.data.cache import reader_code_digest, reader_code_paths
    from har.data.sources.folder import FolderSource
    from har.data.sources.mmfit.source import MMFitSource
    from har.data.sources.watch import WatchSource

    mmfit_source = object.__new__(MMFitSource)  # the class is all the digest looks at
    names = {p.name for p in reader_code_paths(mmfit_source)}
    assert {"align.py", "reader.py", "format.py", "source.py", "session.py"} <= names
    folder_names = {p.name for p in reader_code_paths(object.__new__(FolderSource))}
    # A one-module reader brings the sibling modules it uses: its file validator, the protocol.
    assert folder_names == {"folder.py", "session_file.py", "base.py", "session.py"}
    watch_names = {p.name for p in reader_code_paths(object.__new__(WatchSource))}
    assert watch_names == {"watch.py", "seglearn_file.py", "base.py", "session.py"}
    assert reader_code_digest(mmfit_source) != reader_code_digest(object.__new__(FolderSource))
