"""Loss terms of the joint objective (DESIGN §1)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

SIMILARITIES = ("cosine", "mse")


def feature_similarity_loss(f_real: Tensor, f_sim: Tensor, kind: str) -> Tensor:
    """Distance between real and simulated features of the same windows (0 when identical)."""
    if kind == "cosine":
        return (1.0 - F.cosine_similarity(f_real, f_sim, dim=-1)).mean()
    if kind == "mse":
        return F.mse_loss(f_sim, f_real)
    raise ValueError(f"scenario.similarity must be one of {SIMILARITIES}, got {kind!r}")
