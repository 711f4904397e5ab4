"""Config helpers shared by the entrypoints: custom resolvers and the project's conf/ location."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from har.errors import ConfigError

# conf/ lives at the repository root, beside src/ (editable install) — the entrypoints point Hydra at it.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


AXES_PER_STREAM = 3  # every IMU stream a reader knows (acc, gyr, mag) is triaxial: x, y, z


def stream_channels(streams: Sequence[str]) -> int:
    """Channels of the concatenated streams (``data.sensors`` or ``data.regress``)."""
    return AXES_PER_STREAM * len(streams)


def acc_streams(sensors: Sequence[str]) -> list[str]:
    """The default ``data.regress``: the accelerometer streams among ``data.sensors`` (named
    ``acc`` or ``*_acc``), else the first stream."""
    found = [name for name in sensors if name == "acc" or name.endswith("_acc")]
    return found or list(sensors[:1])


def regressed_channels(sensors: Sequence[str], regress: Sequence[str]) -> list[int]:
    """Which of F's input channels (``data.sensors`` concatenated) the regressor predicts
    (``data.regress``, in that order); each regressed stream must be one F reads."""
    if missing := [name for name in regress if name not in sensors]:
        raise ConfigError(
            f"data.regress holds {', '.join(missing)}, which data.sensors={list(sensors)} does not "
            "read: the regression target comes from the real streams F sees"
        )
    first = [AXES_PER_STREAM * list(sensors).index(name) for name in regress]
    return [start + axis for start in first for axis in range(AXES_PER_STREAM)]


def register_resolvers() -> None:
    """``${len:${data.joints}}``, ``${channels:${data.sensors}}``, ``${acc_streams:...}`` and
    ``${regressed_channels:${data.sensors},${data.regress}}`` let model sizes follow the data
    config."""
    for name, function in (
        ("len", lambda seq: len(seq)),
        ("channels", stream_channels),
        ("acc_streams", acc_streams),
        ("regressed_channels", regressed_channels),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


register_resolvers()
