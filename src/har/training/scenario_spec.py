"""The ``scenario`` switches of the joint objective: their defaults and the checks they must pass.

A scenario file (``conf/scenario/*.yaml``) overlays ``scenario2.yaml``, which lists every switch
with a comment. The defaults below repeat that file's values for the nested blocks, so a checkpoint
saved before a block existed still loads (its hyperparameters simply lack the block).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from har.errors import ConfigError
from har.models.discriminator import KINDS as DISCRIMINATOR_KINDS
from har.models.gradient_reversal import SCHEDULES
from har.models.signal_mapping import MODES as MAPPING_MODES
from har.training.losses import SIMILARITIES

ADVERSARY_KINDS = ("none", *DISCRIMINATOR_KINDS)
SIMILARITY_TARGETS = ("real", "sim", "both")
RECIPES = ("joint", "virtual_imu")
AUGMENT_TARGETS = ("real", "virtual")  # the switches of `augment`; the rest are its strengths
DEFAULTS: dict[str, Any] = {
    "recipe": "joint",
    "sim_ce_trains_regressor": False,
    "similarity_target": "real",
    "freeze_regressor": False,
    "regressor_checkpoint": None,
    "virtual_weight": 1.0,
    "label_smoothing": 0.0,
    "mixup": 0.0,
    "virtual": {"mapping": "none"},
    "augment": {
        "real": False,
        "virtual": False,
        "roll_deg": 0.0,
        "rotate_deg": 0.0,
        "gain": 0.0,
        "motion_gain": 0.0,
        "jitter": 0.0,
        "time_warp": 0.0,
        "roll_axis": 0,
    },
    "separate_feature_extractor": False,
    "separate_classifier": False,
    "secondary": {"weight": 0.0, "n_classes": None},
    "adversary": {
        "kind": "none",
        "weight": 0.1,
        "hidden": 64,
        "conditional": False,
        "aux_classifier": False,
        "grl_strength": 1.0,
        "schedule": "constant",
        "n_critic": 5,
        "gp_weight": 10.0,
        "warmup_epochs": 0,
        "lr": 1e-4,
    },
}


def with_defaults(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of the scenario with any missing switch filled from ``DEFAULTS``."""
    merged = copy.deepcopy(DEFAULTS)
    for key, value in scenario.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def trains_sim_path(scenario: Mapping[str, Any]) -> bool:
    """Whether any term of the objective goes through the regressor R."""
    s = with_defaults(scenario)
    return (
        s["gamma"] > 0
        or s["beta"] > 0
        or (s["alpha"] > 0 and bool(s["ce_sim"]))
        or s["secondary"]["weight"] > 0
        or s["adversary"]["kind"] != "none"
    )


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"scenario.{key}: {message}")


def check_scenario(
    scenario: Mapping[str, Any],
    gradient_clip_val: float = 0.0,
    has_secondary_data: bool | None = None,
) -> None:
    """Raise ConfigError for switch values that cannot work, naming the key.

    ``has_secondary_data`` (whether ``data.secondary`` is set) is checked when known.
    """
    s = with_defaults(scenario)
    for key in ("alpha", "beta", "gamma"):
        _require(s[key] >= 0, key, f"must be >= 0, got {s[key]}")
    _require(
        s["similarity"] in SIMILARITIES,
        "similarity",
        f"must be one of {SIMILARITIES}, got {s['similarity']!r}",
    )
    _require(
        s["similarity_target"] in SIMILARITY_TARGETS,
        "similarity_target",
        f"must be one of {SIMILARITY_TARGETS}, got {s['similarity_target']!r}",
    )
    _require(s["recipe"] in RECIPES, "recipe", f"must be one of {RECIPES}, got {s['recipe']!r}")
    _require(s["virtual_weight"] >= 0, "virtual_weight", f"must be >= 0, got {s['virtual_weight']}")
    _require(
        0 <= s["label_smoothing"] < 1,
        "label_smoothing",
        f"must be in [0, 1), got {s['label_smoothing']}",
    )
    _require(s["mixup"] >= 0, "mixup", f"must be >= 0 (Beta's alpha; 0: off), got {s['mixup']}")
    _require(
        s["virtual"]["mapping"] in MAPPING_MODES,
        "virtual.mapping",
        f"must be one of {MAPPING_MODES}, got {s['virtual']['mapping']!r}",
    )
    for key, value in s["augment"].items():
        if key not in AUGMENT_TARGETS and key != "roll_axis":
            _require(value >= 0, f"augment.{key}", f"must be >= 0, got {value}")
    _require(
        s["augment"]["roll_axis"] in (0, 1, 2),
        "augment.roll_axis",
        f"must be 0, 1 or 2 (a sensor axis), got {s['augment']['roll_axis']}",
    )
    _require(
        s["secondary"]["weight"] >= 0,
        "secondary.weight",
        f"must be >= 0, got {s['secondary']['weight']}",
    )
    _require(
        has_secondary_data is not False or s["secondary"]["weight"] == 0,
        "secondary.weight",
        "> 0 needs a pose-only data set in data.secondary: use scenario=secondary_pose, or add "
        "one (data@data.secondary=ntu60 / mmfit_heldout)",
    )
    a = s["adversary"]
    _require(a["kind"] in ADVERSARY_KINDS, "adversary.kind", f"must be one of {ADVERSARY_KINDS}")
    for key in ("weight", "grl_strength", "gp_weight", "warmup_epochs"):
        _require(a[key] >= 0, f"adversary.{key}", f"must be >= 0, got {a[key]}")
    _require(a["hidden"] >= 1, "adversary.hidden", f"must be >= 1, got {a['hidden']}")
    _require(a["n_critic"] >= 1, "adversary.n_critic", f"must be >= 1, got {a['n_critic']}")
    _require(a["lr"] > 0, "adversary.lr", f"must be > 0, got {a['lr']}")
    _require(a["schedule"] in SCHEDULES, "adversary.schedule", f"must be one of {SCHEDULES}")
    _require(
        not (a["conditional"] and a["aux_classifier"]),
        "adversary",
        "conditional=true feeds the label to the discriminator, which then cannot also predict "
        "it (aux_classifier=true): choose one",
    )
    _require(
        not a["aux_classifier"] or a["kind"] == "signal",
        "adversary.aux_classifier",
        "only the signal critic has a label head (behind gradient reversal it would remove the "
        "class information from the features)",
    )
    if a["kind"] == "signal":
        _require(
            gradient_clip_val == 0,
            "adversary.kind",
            "signal trains with manual optimisation, where Lightning cannot clip gradients: "
            "set trainer.gradient_clip_val=0",
        )
