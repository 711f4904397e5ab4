"""Part 3 of issue 15: every reader, on small valid trees broken at random, gives clean sessions or
one line naming the file (never a traceback, never a NaN in a batch). Examples: tests/fuzz/profiles.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import fresh_copy, sessions_of
from tests.fuzz.formats import FORMATS
from tests.fuzz.mutations import mutate
from tests.fuzz.outcomes import reader_outcome
from tests.fuzz.profiles import READERS


@pytest.mark.parametrize("name", sorted(FORMATS))
@READERS
@given(data=st.data())
def test_broken_file_gives_clean_sessions_or_one_line_naming_it(templates, name, data):
    fmt = FORMATS[name]
    with tempfile.TemporaryDirectory() as tmp:
        root = fresh_copy(templates[name], Path(tmp))
        path = data.draw(st.sampled_from(fmt.files(root)), label="file")
        touched = mutate(data.draw, path, fmt.rename)
        reader_outcome(lambda: fmt.datamodule(root, Path(tmp) / "cache"), sessions_of(fmt, touched))


def test_every_template_reads_cleanly(templates):
    """The unbroken trees are valid, so an error in the fuzz runs is the mutation's doing."""
    for name, fmt in FORMATS.items():
        with tempfile.TemporaryDirectory() as tmp:
            root = fresh_copy(templates[name], Path(tmp))
            dm = reader_outcome(lambda fmt=fmt, root=root: fmt.datamodule(root, None), [])
            assert dm is not None, name
