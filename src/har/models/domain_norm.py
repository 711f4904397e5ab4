"""Batch normalisation that keeps real and simulated statistics apart.

The deployed model is F+C on *real* IMU. If simulated windows flowed through the same BatchNorm, its
running mean/variance would be a blend of both domains and evaluation on real data would use the
wrong statistics. ``mode`` (``model.feature_extractor.domain_norm``) says what the domains share:

* ``shared_affine`` (default): per-domain statistics, one set of affine weights. Each domain is
  whitened by its own statistics and then scaled the same way, so a simulated window that is
  distributed like a real one lands where the real one would: the sim side cannot absorb the
  domain gap in weights of its own, and what F learns from simulations transfers to real IMU.
* ``separate``: per-domain statistics and per-domain affine weights (the sim side can absorb the gap).
* ``shared``: one BatchNorm for both domains (statistics blended; for ablations only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DOMAINS = ("real", "sim")
MODES = ("shared_affine", "separate", "shared")


class DomainBatchNorm1d(nn.Module):
    def __init__(self, num_features: int, mode: str = "shared_affine") -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"domain_norm must be one of {MODES}, got {mode!r}")
        self.mode = mode
        if mode == "shared":
            self.norm = nn.BatchNorm1d(num_features)
            return
        affine = mode == "separate"
        self.norms = nn.ModuleDict(
            {d: nn.BatchNorm1d(num_features, affine=affine) for d in DOMAINS}
        )
        if not affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor, domain: str = "real", track: bool = True) -> Tensor:
        """``track=False`` (a side pass, e.g. for a loss term on windows the main pass already saw):
        in training, normalise with the batch's statistics without updating the running ones."""
        norm = self.norm if self.mode == "shared" else self.norms[domain]
        if self.training and x.shape[0] * x[0, 0].numel() < 2:
            # One value per channel (one window of F's window statistics, e.g. the single real
            # window of a scarce-IMU batch) has no batch statistics: the running ones normalise it.
            out = F.batch_norm(
                x, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps
            )
        elif track or not self.training:
            out = norm(x)
        else:
            out = F.batch_norm(x, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
        if self.mode != "shared_affine":
            return out
        return out * self.weight[:, None] + self.bias[:, None]
