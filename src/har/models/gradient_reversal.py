"""Gradient reversal (Ganin & Lempitsky, 2015): identity forward, gradient times -λ backward.

Placed between the features and a domain discriminator, one optimiser step trains the
discriminator to tell real from simulated features while pushing the feature extractor (and,
through the simulated features, the regressor) to make them indistinguishable.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

SCHEDULES = ("constant", "dann")


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, strength: float) -> Tensor:
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.strength * grad, None


def reverse_gradient(x: Tensor, strength: float) -> Tensor:
    """``x`` unchanged; its gradient is multiplied by ``-strength`` on the way back."""
    return _ReverseGradient.apply(x, float(strength))


def reversal_strength(strength: float, schedule: str, progress: float) -> float:
    """λ at training ``progress`` in [0, 1].

    ``dann`` is the schedule of Ganin et al. (2016): λ·(2 / (1 + exp(-10 p)) - 1), which starts at 0
    (the discriminator learns before it steers the features) and approaches λ.
    """
    if schedule == "constant":
        return strength
    if schedule == "dann":
        p = min(max(progress, 0.0), 1.0)
        return strength * (2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0)
    raise ValueError(f"scenario.adversary.schedule must be one of {SCHEDULES}, got {schedule!r}")


class GradientReversal(nn.Module):
    """Module form of ``reverse_gradient``; ``strength`` may be changed between steps."""

    def __init__(self, strength: float = 1.0) -> None:
        super().__init__()
        self.strength = strength

    def forward(self, x: Tensor) -> Tensor:
        return reverse_gradient(x, self.strength)
