"""Part 4 of issue 15: a session- or split-cache file truncated, edited or swapped is detected
(checksums in its sealed manifest) and rebuilt with a one-line warning, never read as valid."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from har.data.cache import MANIFEST
from tests.fuzz.formats import MMFIT
from tests.fuzz.mutations import mutate
from tests.fuzz.profiles import READERS

# One xdist worker runs this file (make test): its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("fuzz.test_cache")


def batches(dm) -> dict[str, dict[str, np.ndarray]]:
    return {
        split: {k: v.numpy() for k, v in ds.__getitems__(list(range(len(ds)))).items()}
        for split, ds in dm.datasets.items()
    }


@pytest.fixture(scope="module")
def warm(templates, tmp_path_factory):
    """The MM-Fit template read once into a cache, and the batches it gives."""
    cache = tmp_path_factory.mktemp("warm") / "cache"
    dm = MMFIT.datamodule(templates["mmfit"], cache)
    dm.setup()
    return templates["mmfit"], cache, batches(dm)


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@READERS
@given(data=st.data())
def test_damaged_cache_file_is_rebuilt_never_trusted(warm, data):
    raw, warm_cache, expected = warm
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        shutil.copytree(warm_cache, cache)
        entries = sorted(p.parent for p in cache.rglob(MANIFEST))
        files = sorted(f for entry in entries for f in entry.iterdir())
        path = data.draw(st.sampled_from(files), label="cache file")
        before = path.read_bytes()
        mutate(data.draw, path)
        # A changed array file must be caught; a manifest edit may be harmless (JSON whitespace).
        must_rebuild = not path.is_file() or (path.suffix == ".npy" and path.read_bytes() != before)
        handler = Warnings()
        logging.getLogger("har.data").addHandler(handler)
        try:
            dm = MMFIT.datamodule(raw, cache)
            dm.setup()
        finally:
            logging.getLogger("har.data").removeHandler(handler)
        got = batches(dm)
        for split, streams in expected.items():
            for stream, values in streams.items():
                np.testing.assert_array_equal(
                    got[split][stream], values, err_msg=f"{split} {stream}"
                )
        rebuilt = [line for line in handler.lines if "rebuilding" in line]
        assert len(rebuilt) == 1 if must_rebuild else len(rebuilt) <= 1, handler.lines
        assert (path.parent / MANIFEST).is_file()  # whole again for the next run
