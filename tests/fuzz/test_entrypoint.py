"""Part 3 of issue 15, end to end: ``run_trial`` (in this process, as ``python -m`` runs it) on a
tiny broken tree of each trainable format ends with exit 0 and finite metrics, or exit 2 and one
stderr line naming the file; a failed run's results.json says failed. A tenth of the readers'
examples (tests/fuzz/profiles.py): each one is a whole, tiny trial."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.bad_inputs.entrypoint import run_in_process
from tests.fuzz.conftest import fresh_copy, sessions_of
from tests.fuzz.formats import FORMATS
from tests.fuzz.mutations import mutate
from tests.fuzz.outcomes import entrypoint_outcome
from tests.fuzz.profiles import ENTRYPOINT

TRAINABLE = sorted(name for name, fmt in FORMATS.items() if fmt.overrides is not None)


@pytest.mark.parametrize("name", TRAINABLE)
@ENTRYPOINT
@given(data=st.data())
def test_trial_on_a_broken_tree_completes_cleanly_or_fails_in_one_line(templates, name, data):
    fmt = FORMATS[name]
    assert fmt.overrides is not None
    with tempfile.TemporaryDirectory() as tmp:
        root = fresh_copy(templates[name], Path(tmp))
        path = data.draw(st.sampled_from(fmt.files(root)), label="file")
        touched = mutate(data.draw, path, fmt.rename)
        run_dir = Path(tmp) / "run"
        outcome = run_in_process(fmt.overrides(root, Path(tmp) / "cache"), run_dir)
        entrypoint_outcome(outcome, run_dir, sessions_of(fmt, touched))
