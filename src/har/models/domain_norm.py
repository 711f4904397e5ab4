"""Batch normalisation that keeps real and simulated statistics apart.

The deployed model is F+C on *real* IMU. If simulated windows flowed through the same BatchNorm, its
running mean/variance would be a blend of both domains and evaluation on real data would use the
wrong statistics. Each domain therefore owns its own BatchNorm; the affine weights are per domain too
(the cheapest way to keep the two sets of statistics independent).
"""

from __future__ import annotations

from torch import Tensor, nn

DOMAINS = ("real", "sim")


class DomainBatchNorm1d(nn.Module):
    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.norms = nn.ModuleDict({d: nn.BatchNorm1d(num_features) for d in DOMAINS})

    def forward(self, x: Tensor, domain: str = "real") -> Tensor:
        return self.norms[domain](x)
