"""Part 5 of issue 15: overrides that cannot work (unknown keys, wrong types, zero or negative
sizes, a window longer than every session, imu_subjects selecting nobody, a split naming unknown
participants) end the entrypoint with exit 2 and one line naming the key."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.bad_inputs.entrypoint import USER_ERROR_EXIT, run_in_process
from tests.fuzz.formats import MMFIT
from tests.fuzz.profiles import ENTRYPOINT

SIZES = (
    "data.batch_size", "data.sensor_window_length", "data.stride_seconds",
    "data.sampling_rate_hz", "optim.lr", "trainer.epochs",
)  # fmt: skip
GROUPS = ("data", "optim", "trainer", "scenario", "model")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+")


BAD_OVERRIDES = st.one_of(
    # an unknown key in a known group
    st.builds(
        lambda group, name: f"{group}.zz_{name}=1",
        st.sampled_from(GROUPS),
        st.from_regex(r"[a-z]{2,8}", fullmatch=True),
    ),
    # a wrong type
    st.builds(
        lambda key, value: f"{key}={value}",
        st.sampled_from(SIZES),
        st.sampled_from(["abc", "[1,2]", "{a:1}", "true", "null"]),
    ),
    # a zero or negative size
    st.builds(
        lambda key, value: f"{key}={value}",
        st.sampled_from(SIZES),
        st.sampled_from(["0", "-1", "-0.5", "-256"]),
    ),
    # a window longer than every (8 s at 50 Hz) session
    st.integers(401, 10**6).map(lambda n: f"data.sensor_window_length={n}"),
    # imu_subjects that select nobody
    st.sampled_from(["[]", "[99]", "[w01]", "0", "0.0", "-0.5", "1.5", "nobody"]).map(
        lambda v: f"data.imu_subjects={v}"
    ),
    # a split naming participants (workouts) that do not exist
    st.builds(
        lambda split, workout: f"data.{split}_workouts=[{workout}]",
        st.sampled_from(["train", "val", "test"]),
        st.sampled_from(["w77", "w-1", "nobody", "w01x"]),
    ),
)


@ENTRYPOINT
@given(bad=BAD_OVERRIDES)
def test_an_override_that_cannot_work_is_one_line_and_exit_2(templates, bad):
    with tempfile.TemporaryDirectory() as tmp:
        args = [*MMFIT.overrides(templates["mmfit"], Path(tmp) / "cache"), bad]
        outcome = run_in_process(args, Path(tmp) / "run")
    assert outcome.exit_code == USER_ERROR_EXIT, (bad, outcome.stderr[-3000:])
    lines = outcome.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), (bad, outcome.stderr[-3000:])
    key = _key(bad)
    assert key.split(".")[-1] in lines[0] or "workout" in lines[0], (bad, lines[0])
