"""Loss terms of the joint objective (DESIGN §1) and the classification term's regularisers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SIMILARITIES = ("cosine", "mse")
# Mixup's partner labels and weight: the loss is λ·CE(y) + (1 − λ)·CE(y_partner).
Mix = tuple[Tensor, float]


def feature_similarity_loss(f_real: Tensor, f_sim: Tensor, kind: str) -> Tensor:
    """Distance between real and simulated features of the same windows (0 when identical)."""
    if kind == "cosine":
        return (1.0 - F.cosine_similarity(f_real, f_sim, dim=-1)).mean()
    if kind == "mse":
        return F.mse_loss(f_sim, f_real)
    raise ValueError(f"scenario.similarity must be one of {SIMILARITIES}, got {kind!r}")


def mixup(windows: Tensor, labels: Tensor, alpha: float) -> tuple[Tensor, Mix | None]:
    """Mixup (Zhang et al. 2018): each window blended with a random partner of the batch by one
    λ ~ Beta(α, α); α = 0 (or a batch of one) leaves the batch alone. Drawn from torch's generator,
    so the run's seed fixes it."""
    if alpha <= 0 or len(labels) < 2:
        return windows, None
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    partner = torch.randperm(len(labels), device=labels.device)
    return lam * windows + (1.0 - lam) * windows[partner], (labels[partner], lam)


def classification_loss(
    logits: Tensor, labels: Tensor, label_smoothing: float = 0.0, mix: Mix | None = None
) -> Tensor:
    """Cross-entropy with label smoothing; with ``mix`` (from ``mixup``) the mixed-label loss."""
    loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if mix is None:
        return loss
    partner, lam = mix
    return lam * loss + (1.0 - lam) * F.cross_entropy(
        logits, partner, label_smoothing=label_smoothing
    )
