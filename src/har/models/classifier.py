"""Activity classifier C: features (B, D) -> logits (B, n_classes)."""

from __future__ import annotations

from torch import Tensor, nn


class ActivityClassifier(nn.Module):
    def __init__(self, f_in: int, n_classes: int, hidden: int = 0, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.n_classes = n_classes
        if hidden > 0:
            self.net = nn.Sequential(
                nn.Dropout(drop_prob),
                nn.Linear(f_in, hidden),
                nn.ReLU(),
                nn.Linear(hidden, n_classes),
            )
        else:
            self.net = nn.Sequential(nn.Dropout(drop_prob), nn.Linear(f_in, n_classes))

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)
