"""Config helpers shared by the entrypoints: custom resolvers and the project's conf/ location."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

# conf/ lives at the repository root, beside src/ (editable install) — the entrypoints point Hydra at it.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def register_resolvers() -> None:
    """``${len:${data.joints}}`` lets model sizes follow the data config."""
    if not OmegaConf.has_resolver("len"):
        OmegaConf.register_new_resolver("len", lambda seq: len(seq))


register_resolvers()
